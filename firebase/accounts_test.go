package firebase_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"firebase.google.com/go/v4/auth"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/emulator/authemu"
	"github.com/dfbridge/dfbridge/firebase"
)

// Lifecycle operations against the real Auth emulator: each one shows in
// what a Firebase client can then do.
func TestAccountsAgainstTheAuthEmulator(t *testing.T) {
	emu := authemu.ForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fb, err := firebase.New(ctx, firebase.ClientConfig{ProjectID: authemu.ProjectID, EmulatorHost: emu.Host})
	require.NoError(t, err)
	accounts := fb.Accounts()
	uid := fmt.Sprintf("Uaccounts%d", time.Now().UnixNano())
	ref := bridge.AccountRef{UID: uid}

	signIn := func(t *testing.T) (*authemu.Tokens, error) {
		t.Helper()
		ct, err := fb.Minter().Mint(ctx, bridge.Identity{UID: uid})
		require.NoError(t, err)
		return emu.SignInWithCustomToken(ctx, ct.Token, "")
	}

	_, err = accounts.Account(ctx, ref)
	require.ErrorIs(t, err, bridge.ErrAccountNotFound, "an account that was never created is not found")

	first, err := signIn(t)
	require.NoError(t, err)

	t.Run("persistent claims show in the next ID token", func(t *testing.T) {
		require.NoError(t, accounts.SetClaims(ctx, ref, map[string]any{"roles": []string{"editor"}}))
		acct, err := accounts.Account(ctx, ref)
		require.NoError(t, err)
		assert.Equal(t, map[string]any{"roles": []any{"editor"}}, acct.Claims)
		next, err := emu.Refresh(ctx, first.RefreshToken)
		require.NoError(t, err)
		claims, err := authemu.Claims(next.IDToken)
		require.NoError(t, err)
		assert.Equal(t, []any{"editor"}, claims["roles"])
	})

	t.Run("profile fields are written", func(t *testing.T) {
		email, name, verified := strings.ToLower(uid)+"@example.com", "Ada", true
		require.NoError(t, accounts.UpdateAccount(ctx, ref, bridge.AccountUpdate{Email: &email, DisplayName: &name, EmailVerified: &verified}))
		acct, err := accounts.Account(ctx, ref)
		require.NoError(t, err)
		assert.Equal(t, email, acct.Email)
		assert.Equal(t, "Ada", acct.DisplayName)
		assert.True(t, acct.EmailVerified)
	})

	t.Run("revoked sessions fail the Admin SDK's revocation check", func(t *testing.T) {
		authemu.WaitPastIssuedSecond(t, first.IDToken)
		require.NoError(t, accounts.RevokeSessions(ctx, ref))
		_, err := fb.Auth().VerifyIDTokenAndCheckRevoked(ctx, first.IDToken)
		assert.True(t, auth.IsIDTokenRevoked(err), "got %v", err)

		// Lifecycle sync reads both times to tell whether the account has
		// signed in since its sessions were last revoked.
		acct, err := accounts.Account(ctx, ref)
		require.NoError(t, err)
		require.False(t, acct.LastSignIn.IsZero(), "the emulator records the sign-in")
		require.False(t, acct.SessionsValidAfter.IsZero(), "the emulator records the revocation")
		assert.False(t, acct.LastSignIn.After(acct.SessionsValidAfter), "no sign-in since the revocation")

		_, err = signIn(t)
		require.NoError(t, err)
		acct, err = accounts.Account(ctx, ref)
		require.NoError(t, err)
		assert.True(t, acct.LastSignIn.After(acct.SessionsValidAfter), "a new sign-in after the revocation shows")
	})

	t.Run("a disabled account cannot sign in or refresh", func(t *testing.T) {
		disabled := true
		require.NoError(t, accounts.UpdateAccount(ctx, ref, bridge.AccountUpdate{Disabled: &disabled}))
		_, err := signIn(t)
		assertEmulatorError(t, err, "USER_DISABLED")
		_, err = emu.Refresh(ctx, first.RefreshToken)
		assertEmulatorError(t, err, "USER_DISABLED")
	})

	t.Run("a deleted account is gone, and deleting it again says so", func(t *testing.T) {
		require.NoError(t, accounts.DeleteAccount(ctx, ref))
		_, err := accounts.Account(ctx, ref)
		assert.ErrorIs(t, err, bridge.ErrAccountNotFound)
		assert.ErrorIs(t, accounts.DeleteAccount(ctx, ref), bridge.ErrAccountNotFound)
	})
}

func assertEmulatorError(t *testing.T, err error, message string) {
	t.Helper()
	var e *authemu.Error
	require.True(t, errors.As(err, &e), "want an emulator error, got %v", err)
	assert.Equal(t, message, e.Message)
}
