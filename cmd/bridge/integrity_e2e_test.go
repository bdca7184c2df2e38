package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"firebase.google.com/go/v4/auth"
	sdk "github.com/descope/go-sdk/descope"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/bridge"
	"github.com/dfbridge/dfbridge/emulator/authemu"
	"github.com/dfbridge/dfbridge/emulator/descopestub"
)

// A user removed at Descope stays out of Firebase, in both on-delete
// modes: (a) deleted while signed in, (b) deleted before ever signing in,
// each with a custom token minted before the deletion still in hand. The
// old session is refused by the bridge, the old custom token by Firebase
// itself (a disabled account, or a disabled placeholder), and no enabled
// account exists afterwards.
func TestARemovedUserStaysOut(t *testing.T) {
	t.Parallel()
	emu := authemu.ForTest(t)
	for _, mode := range []string{"disable", "delete"} {
		t.Run(mode, func(t *testing.T) {
			env := map[string]string{"AUDIT_WEBHOOK_ON_USER_DELETED": mode}
			for k, v := range webhookEnv {
				env[k] = v
			}
			s := startStack(t, emu.Host, nil, env)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			fb := s.svc.firebase.Auth()

			remove := func(t *testing.T, userID string) {
				s.stub.DeleteUser(userID)
				delivery, err := s.stub.AuditDelivery(descopestub.AuditEvent{Action: "UserDeleted", UserID: userID})
				require.NoError(t, err)
				s.deliverAndSettle(t, delivery)
			}
			stayOut := func(t *testing.T, userID, session, earlierToken string) {
				resp := s.exchangeBearer(t, session)
				assert.Equal(t, http.StatusForbidden, resp.Status, "the old session is refused: %s", resp.Body)
				assert.Equal(t, "user_removed", resp.errorCode(t))
				_, err := emu.SignInWithCustomToken(ctx, earlierToken, "")
				assert.Equal(t, "USER_DISABLED", emulatorMessage(err), "a custom token minted before the deletion cannot sign in: %v", err)
				u, err := fb.GetUser(ctx, userID)
				require.NoError(t, err, "a disabled account or placeholder holds the UID")
				assert.True(t, u.Disabled, "no enabled account exists afterwards")
			}

			t.Run("(a) a user deleted while signed in", func(t *testing.T) {
				userID := uniqueUser("Ua" + mode)
				s.stub.PutUser(sdk.UserResponse{UserID: userID, RoleNames: []string{"viewer"}, Status: "enabled"})
				session := s.session(t, descopestub.Session{UserID: userID, Roles: []string{"viewer"}})
				_, err := s.signIn(t, emu, session)
				require.NoError(t, err)
				earlier := s.exchangeBearer(t, session).json(t)["externalToken"].(string)
				require.NoError(t, s.svc.lifecycle.waitIdle(ctx))

				remove(t, userID)
				stayOut(t, userID, session, earlier)
			})
			t.Run("(b) a user deleted before signing in", func(t *testing.T) {
				userID := uniqueUser("Ub" + mode)
				s.stub.PutUser(sdk.UserResponse{UserID: userID, Status: "enabled"})
				session := s.session(t, descopestub.Session{UserID: userID})
				never := s.session(t, descopestub.Session{UserID: userID + "x"})
				// Exchanged but never used: the app was killed before it
				// signed in.
				resp := s.exchangeBearer(t, session)
				require.Equal(t, http.StatusOK, resp.Status)
				earlier := resp.json(t)["externalToken"].(string)

				remove(t, userID)
				stayOut(t, userID, session, earlier)

				// A user who never exchanged at all: the job finds no
				// account and leaves a disabled placeholder.
				s.stub.PutUser(sdk.UserResponse{UserID: userID + "x", Status: "enabled"})
				remove(t, userID+"x")
				resp = s.exchangeBearer(t, never)
				assert.Equal(t, "user_removed", resp.errorCode(t))
				u, err := fb.GetUser(ctx, userID+"x")
				require.NoError(t, err)
				assert.True(t, u.Disabled)
				assert.Empty(t, u.Email, "a placeholder holds no profile")
			})
			t.Run("re-enabling the user at Descope lifts the refusal", func(t *testing.T) {
				userID := uniqueUser("Ur" + mode)
				s.stub.PutUser(sdk.UserResponse{UserID: userID, Status: "enabled"})
				session := s.session(t, descopestub.Session{UserID: userID})
				_, err := s.signIn(t, emu, session)
				require.NoError(t, err)
				require.NoError(t, s.svc.lifecycle.waitIdle(ctx))
				require.True(t, s.stub.DisableUser(userID))
				d, err := s.stub.AuditDelivery(descopestub.AuditEvent{Action: "UserModified", UserID: userID})
				require.NoError(t, err)
				s.deliverAndSettle(t, d)
				assert.Equal(t, "user_removed", s.exchangeBearer(t, session).errorCode(t))

				require.True(t, s.stub.UpdateUser(userID, func(u *sdk.UserResponse) { u.Status = "enabled" }))
				d, err = s.stub.AuditDelivery(descopestub.AuditEvent{Action: "UserModified", UserID: userID, Data: map[string]any{"n": 2}})
				require.NoError(t, err)
				s.deliverAndSettle(t, d)
				_, err = s.signIn(t, emu, session)
				assert.NoError(t, err, "enabled again at Descope, enabled again in Firebase")
			})
		})
	}
}

// Reconcile tells the bridge's accounts from everyone else's and changes
// only what the bridge owns: (c) an account only an exchange created, whose
// deletion was never delivered, is ended; (d) a claim set beside the
// bridge's survives a role-change job and reconcile; (e) an account a
// Firebase admin disabled stays disabled; (f) an email/password account and
// a custom-token account minted by something else are untouched.
func TestReconcileChangesOnlyWhatTheBridgeOwns(t *testing.T) {
	t.Parallel()
	emu := isolatedEmulator(t)
	for _, mode := range []string{"disable", "delete"} {
		t.Run(mode, func(t *testing.T) {
			env := map[string]string{"AUDIT_WEBHOOK_ON_USER_DELETED": mode}
			for k, v := range reconcileEnv {
				env[k] = v
			}
			s := startStack(t, emu.Host, nil, env)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			fb := s.svc.firebase.Auth()
			clearEmulator(t, emu)
			s.stub.PutRole(sdk.Role{Name: "viewer", PermissionNames: []string{"docs.read"}})
			s.stub.PutRole(sdk.Role{Name: "editor", PermissionNames: []string{"docs.read", "docs.write"}})

			signIn := func(t *testing.T, userID string) {
				s.stub.PutUser(sdk.UserResponse{UserID: userID, RoleNames: []string{"viewer"}, Status: "enabled"})
				_, err := s.signIn(t, emu, s.session(t, descopestub.Session{UserID: userID, Roles: []string{"viewer"}}))
				require.NoError(t, err)
			}
			gone, foreignClaim, adminOff := "Ugone"+mode, "Ustripe"+mode, "Uadmin"+mode
			for _, id := range []string{gone, foreignClaim, adminOff} {
				signIn(t, id)
			}
			require.NoError(t, s.svc.lifecycle.waitIdle(ctx))

			// (f) accounts that are not the bridge's.
			_, err := fb.CreateUser(ctx, (&auth.UserToCreate{}).UID("pw"+mode).Email("pw"+mode+"@example.com").Password("secret123"))
			require.NoError(t, err)
			custom, err := fb.CustomTokenWithClaims(ctx, "other"+mode, map[string]any{"app": "other"})
			require.NoError(t, err)
			_, err = emu.SignInWithCustomToken(ctx, custom, "")
			require.NoError(t, err)
			require.NoError(t, fb.SetCustomUserClaims(ctx, "other"+mode, map[string]any{"plan": "gold"}))

			// (c) the deletion is never delivered.
			s.stub.DeleteUser(gone)
			// (d) a claim beside the bridge's, then a delivered role change.
			u, err := fb.GetUser(ctx, foreignClaim)
			require.NoError(t, err)
			claims := u.CustomClaims
			claims["stripeRole"] = "pro"
			require.NoError(t, fb.SetCustomUserClaims(ctx, foreignClaim, claims))
			require.True(t, s.stub.UpdateUser(foreignClaim, func(u *sdk.UserResponse) { u.RoleNames = []string{"editor"} }))
			d, err := s.stub.AuditDelivery(descopestub.AuditEvent{Action: "UserModified", UserID: foreignClaim})
			require.NoError(t, err)
			s.deliverAndSettle(t, d)
			// (e) a Firebase admin disables an account.
			_, err = fb.UpdateUser(ctx, adminOff, (&auth.UserToUpdate{}).Disabled(true))
			require.NoError(t, err)

			dry, _ := s.reconcile(t, "--dry-run")
			t.Logf("dry run: %+v", dry)
			wantKind := "disabled"
			if mode == "delete" {
				wantKind = "deleted"
			}
			assert.Equal(t, map[string]int{wantKind: 1}, dry.Changes, "the only change is the undelivered deletion")
			assert.Equal(t, []string{gone}, dry.Samples[wantKind], "with its UID")

			rep, _ := s.reconcile(t)
			t.Logf("reconcile: %+v", rep)
			assert.Equal(t, map[string]int{wantKind: 1}, rep.Changes)
			assert.Equal(t, 2, rep.Unmanaged, "the email/password and the foreign custom-token accounts")

			t.Run("(c) the exchange-only account of a user deleted without a delivery is ended", func(t *testing.T) {
				u, err := fb.GetUser(ctx, gone)
				require.NoError(t, err, "disabled, or a disabled placeholder")
				assert.True(t, u.Disabled)
			})
			t.Run("(d) a foreign claim survives the role-change job and reconcile", func(t *testing.T) {
				u, err := fb.GetUser(ctx, foreignClaim)
				require.NoError(t, err)
				assert.Equal(t, "pro", u.CustomClaims["stripeRole"])
				assert.Equal(t, []any{"editor"}, u.CustomClaims["roles"])
			})
			t.Run("(e) an account a Firebase admin disabled stays disabled", func(t *testing.T) {
				u, err := fb.GetUser(ctx, adminOff)
				require.NoError(t, err)
				assert.True(t, u.Disabled)
			})
			t.Run("(f) other providers' and other minters' accounts are untouched", func(t *testing.T) {
				u, err := fb.GetUser(ctx, "pw"+mode)
				require.NoError(t, err)
				assert.False(t, u.Disabled)
				assert.Empty(t, u.CustomClaims)
				assert.Equal(t, "pw"+mode+"@example.com", u.Email)
				u, err = fb.GetUser(ctx, "other"+mode)
				require.NoError(t, err)
				assert.False(t, u.Disabled)
				assert.Equal(t, map[string]any{"plan": "gold"}, u.CustomClaims)
			})
			again, _ := s.reconcile(t)
			assert.Zero(t, again.Changed, "a second run changes nothing")
			assert.NotContains(t, again.Samples, bridge.OutcomePurged, "placeholders stay until their time is up")
		})
	}
}
