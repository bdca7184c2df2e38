// Package bridgetest holds in-memory implementations of the bridge's
// consumer interfaces, for tests where the real part cannot be made to do
// what the test needs (fail on demand, say). They keep state, not call logs:
// a test asserts on what an account is, not on which calls were made.
package bridgetest

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/dfbridge/dfbridge/bridge"
)

// Users is an in-memory bridge.UserLoader.
type Users struct {
	mu    sync.Mutex
	users map[string]bridge.DescopeUser
	// Err, when set, is returned by every LoadUser.
	Err error
	// failNext LoadUser calls fail with failErr.
	failNext int
	failErr  error
}

// FailNext makes the next n LoadUser calls fail with err, as a Descope that
// answers 429 or 503 for a while.
func (s *Users) FailNext(n int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext, s.failErr = n, err
}

var _ bridge.UserLoader = (*Users)(nil)

// NewUsers returns a source holding users.
func NewUsers(users ...bridge.DescopeUser) *Users {
	s := &Users{users: map[string]bridge.DescopeUser{}}
	for _, u := range users {
		s.Put(u)
	}
	return s
}

// Put stores or replaces a user.
func (s *Users) Put(u bridge.DescopeUser) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.UserID] = u
}

// Delete removes a user.
func (s *Users) Delete(userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.users, userID)
}

// LoadUser implements bridge.UserLoader.
func (s *Users) LoadUser(_ context.Context, userID string) (*bridge.DescopeUser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return nil, s.Err
	}
	if s.failNext > 0 {
		s.failNext--
		return nil, s.failErr
	}
	u, ok := s.users[userID]
	if !ok {
		return nil, bridge.ErrUserNotFound
	}
	return &u, nil
}

// Account is one in-memory Firebase account.
type Account struct {
	bridge.Account
	// Revocations counts RevokeSessions calls: the account's observable
	// "tokens valid after" moving forward.
	Revocations int
}

// Accounts is an in-memory bridge.Accounts.
type Accounts struct {
	mu       sync.Mutex
	accounts map[bridge.AccountRef]*Account
	// Err, when set, is returned by every call.
	Err error
}

var _ bridge.Accounts = (*Accounts)(nil)

// NewAccounts returns an empty account store.
func NewAccounts() *Accounts {
	return &Accounts{accounts: map[bridge.AccountRef]*Account{}}
}

// Put stores or replaces an account.
func (a *Accounts) Put(ref bridge.AccountRef, acct bridge.Account) {
	a.mu.Lock()
	defer a.mu.Unlock()
	acct.Claims = roundTrip(acct.Claims)
	a.accounts[ref] = &Account{Account: acct}
}

// Get returns a copy of an account.
func (a *Accounts) Get(ref bridge.AccountRef) (Account, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	acct, ok := a.accounts[ref]
	if !ok {
		return Account{}, false
	}
	return *acct, true
}

func (a *Accounts) find(ref bridge.AccountRef) (*Account, error) {
	if a.Err != nil {
		return nil, a.Err
	}
	acct, ok := a.accounts[ref]
	if !ok {
		return nil, bridge.ErrAccountNotFound
	}
	return acct, nil
}

// Account implements bridge.Accounts.
func (a *Accounts) Account(_ context.Context, ref bridge.AccountRef) (*bridge.Account, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	acct, err := a.find(ref)
	if err != nil {
		return nil, err
	}
	cp := acct.Account
	return &cp, nil
}

// UpdateAccount implements bridge.Accounts.
func (a *Accounts) UpdateAccount(_ context.Context, ref bridge.AccountRef, u bridge.AccountUpdate) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	acct, err := a.find(ref)
	if err != nil {
		return err
	}
	if u.Disabled != nil {
		acct.Disabled = *u.Disabled
	}
	if u.Email != nil {
		acct.Email = *u.Email
	}
	if u.EmailVerified != nil {
		acct.EmailVerified = *u.EmailVerified
	}
	if u.DisplayName != nil {
		acct.DisplayName = *u.DisplayName
	}
	return nil
}

// SetClaims implements bridge.Accounts. Claims are stored as Firebase
// returns them: JSON-decoded, and nil when empty.
func (a *Accounts) SetClaims(_ context.Context, ref bridge.AccountRef, claims map[string]any) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	acct, err := a.find(ref)
	if err != nil {
		return err
	}
	acct.Claims = roundTrip(claims)
	return nil
}

// RevokeSessions implements bridge.Accounts.
func (a *Accounts) RevokeSessions(_ context.Context, ref bridge.AccountRef) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	acct, err := a.find(ref)
	if err != nil {
		return err
	}
	acct.Revocations++
	// Firebase records revocation to the second.
	acct.SessionsValidAfter = time.Now().Truncate(time.Second)
	return nil
}

// DeleteAccount implements bridge.Accounts.
func (a *Accounts) DeleteAccount(_ context.Context, ref bridge.AccountRef) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, err := a.find(ref); err != nil {
		return err
	}
	delete(a.accounts, ref)
	return nil
}

// CreateAccount implements bridge.Accounts.
func (a *Accounts) CreateAccount(_ context.Context, ref bridge.AccountRef, c bridge.AccountCreate) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.Err != nil {
		return a.Err
	}
	if _, ok := a.accounts[ref]; ok {
		return bridge.ErrAccountExists
	}
	a.accounts[ref] = &Account{Account: bridge.Account{Disabled: c.Disabled, Claims: roundTrip(c.Claims), Created: time.Now()}}
	return nil
}

func roundTrip(claims map[string]any) map[string]any {
	if len(claims) == 0 {
		return nil
	}
	b, err := json.Marshal(claims)
	if err != nil {
		panic(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// EachAccount implements bridge.AccountLister, in no particular order.
func (a *Accounts) EachAccount(_ context.Context, f func(ref bridge.AccountRef, acct *bridge.Account) error) error {
	a.mu.Lock()
	refs := make([]bridge.AccountRef, 0, len(a.accounts))
	accts := make([]bridge.Account, 0, len(a.accounts))
	for ref, acct := range a.accounts {
		refs = append(refs, ref)
		accts = append(accts, acct.Account)
	}
	a.mu.Unlock()
	for i := range refs {
		if err := f(refs[i], &accts[i]); err != nil {
			return err
		}
	}
	return nil
}

// EachUserPage implements bridge.UserPager, in pages of two users.
func (s *Users) EachUserPage(_ context.Context, f func(users []*bridge.DescopeUser, total int) error) error {
	s.mu.Lock()
	all := make([]*bridge.DescopeUser, 0, len(s.users))
	for _, u := range s.users {
		cp := u
		all = append(all, &cp)
	}
	s.mu.Unlock()
	for i := 0; i < len(all); i += 2 {
		if err := f(all[i:min(i+2, len(all))], len(all)); err != nil {
			return err
		}
	}
	return nil
}

// WithoutOwnerRecord is claims without the bridge's ownership record
// (bridge.OwnerClaim), for comparing what a sync wrote.
func WithoutOwnerRecord(claims map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range claims {
		if k != bridge.OwnerClaim {
			out[k] = v
		}
	}
	return out
}
