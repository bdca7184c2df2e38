// Package secretcheck refuses secrets that cannot be secret: the example
// settings' placeholders, values shaped like one, and values too short or
// too repetitive to resist guessing. A connector secret is as strong as
// the tokens it lets Descope mint, and the example file is public.
package secretcheck

import (
	"math"
	"strings"
)

// MinLength is the shortest secret accepted.
const MinLength = 16

// MinBits is the least entropy accepted, estimated from the value's own
// character frequencies (Shannon) times its length. 32 random bytes in
// base64 (openssl rand -base64 32) have about 240 by this estimate;
// "password-password" has about 50.
const MinBits = 64

// Make is how to make a good secret, for error messages.
const Make = "openssl rand -base64 32"

// markers are what placeholders are made of, in any case.
var markers = []string{"replace-with", "replace_with", "replaceme", "changeme", "change-me", "placeholder",
	"your-secret", "yoursecret", "auth-string", "example", "xxxxxxxx"}

// Weak says why value is not fit to be a secret, or "" when it is.
func Weak(value string) string {
	lower := strings.ToLower(value)
	for _, m := range markers {
		if strings.Contains(lower, m) {
			return "is a placeholder (it contains \"" + m + "\")"
		}
	}
	if len(value) < MinLength {
		return "is shorter than 16 characters"
	}
	if Bits(value) < MinBits {
		return "has too little entropy (repeated or predictable characters)"
	}
	return ""
}

// Placeholder says whether value is made of a placeholder marker: the
// check for secrets whose shape is not ours to judge (Descope's
// management keys, a Redis AUTH string).
func Placeholder(value string) bool {
	lower := strings.ToLower(value)
	for _, m := range markers {
		if strings.Contains(lower, m) {
			return true
		}
	}
	return false
}

// Bits estimates value's entropy: the Shannon entropy of its character
// distribution, per character, times its length.
func Bits(value string) float64 {
	if value == "" {
		return 0
	}
	counts := map[rune]int{}
	n := 0
	for _, r := range value {
		counts[r]++
		n++
	}
	var h float64
	for _, c := range counts {
		p := float64(c) / float64(n)
		h -= p * math.Log2(p)
	}
	return h * float64(n)
}
