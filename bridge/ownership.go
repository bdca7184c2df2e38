package bridge

import (
	"encoding/json"
	"maps"
	"slices"
	"time"
)

// OwnerClaim is the persistent custom claim in which lifecycle sync records
// what it owns on an account, so that it changes only that: the claim keys
// it set (every other key is someone else's and is kept), whether it
// created the account (only then are email and display name written, unless
// LIFECYCLE_PROFILE_SYNC=all), whether it disabled the account (only then
// does it enable it again), and, on a placeholder for a deleted user, when
// the placeholder may go. It is small: {"k":["roles"],"c":1,"d":1,"t":...}.
const OwnerClaim = "dfbo"

// ownership is the decoded OwnerClaim.
type ownership struct {
	// Keys are the claim keys the bridge set, sorted.
	Keys []string `json:"k,omitempty"`
	// Created: the bridge created the account (an adopted first sign-in
	// or a placeholder).
	Created bool `json:"c,omitempty"`
	// Disabled: the bridge disabled the account.
	Disabled bool `json:"d,omitempty"`
	// Until, on a placeholder for a deleted user, is the Unix second after
	// which reconcile deletes it.
	Until int64 `json:"t,omitempty"`
}

// ownerOf reads an account's ownership record; recorded is false when it
// has none (an account the bridge never synced, or one synced before the
// record existed).
func ownerOf(acct *Account) (own ownership, recorded bool) {
	v, ok := acct.Claims[OwnerClaim]
	if !ok {
		return own, false
	}
	b, err := json.Marshal(v)
	if err != nil || json.Unmarshal(b, &own) != nil {
		return ownership{}, false
	}
	return own, true
}

// marked reports whether the account carries the bridge's marker.
func marked(acct *Account) bool {
	id, ok := acct.Claims[MarkerClaim].(string)
	return ok && id != ""
}

// ownedKeys are the claim keys the bridge set on acct: those recorded, or,
// on a marked account synced before the record existed (when the bridge
// replaced the whole object), every key.
func ownedKeys(acct *Account) []string {
	if own, ok := ownerOf(acct); ok {
		return own.Keys
	}
	if !marked(acct) {
		return nil
	}
	keys := make([]string, 0, len(acct.Claims))
	for k := range acct.Claims {
		if k != MarkerClaim {
			keys = append(keys, k)
		}
	}
	return keys
}

// mergeClaims is acct's claims with the bridge's replaced by ours: every
// key the bridge set before is dropped, every other key kept, ours and the
// marker added, and own recorded with ours' keys. The merged object must
// fit Firebase's budget; if it does not, nothing is dropped to make it fit:
// the account fails with claims_too_large.
func mergeClaims(acct *Account, ours map[string]any, userID string, own ownership) (map[string]any, error) {
	out := make(map[string]any, len(acct.Claims)+len(ours)+2)
	for k, v := range acct.Claims {
		out[k] = v
	}
	for _, k := range ownedKeys(acct) {
		delete(out, k)
	}
	maps.Copy(out, ours)
	own.Keys = slices.Sorted(maps.Keys(ours))
	out[MarkerClaim] = userID
	out[OwnerClaim] = ownClaim(own)
	out = jsonClaims(out)
	b, err := json.Marshal(out)
	if err != nil {
		return nil, Wrap(CodeInternal, err, "encoding merged claims")
	}
	if len(b) > MaxClaimsBytes {
		return nil, Errorf(CodeClaimsTooLarge,
			"the bridge's claims merged with the account's other claims encode to %d bytes, Firebase allows %d", len(b), MaxClaimsBytes)
	}
	return out, nil
}

// ownClaim is own as JSON decodes it, so it compares equal to a read-back.
func ownClaim(own ownership) map[string]any {
	b, _ := json.Marshal(own)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

// ourClaims is the part of acct's claims the bridge set (without marker
// and record), for deciding whether sessions must be revoked.
func ourClaims(acct *Account) map[string]any {
	out := map[string]any{}
	for _, k := range ownedKeys(acct) {
		if v, ok := acct.Claims[k]; ok && k != OwnerClaim {
			out[k] = v
		}
	}
	return out
}

// placeholderUntil is when a placeholder for a user deleted at now may go.
func placeholderUntil(now time.Time, ttl time.Duration) int64 {
	return now.Add(ttl).Unix()
}
