package firebase

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
)

// expiryOf reads exp from a custom token we just minted, so the response's
// expiresAt is exactly the token's exp and not a second clock reading.
func expiryOf(token string) (time.Time, error) {
	parts := strings.SplitN(token, ".", 3)
	if len(parts) != 3 {
		return time.Time{}, errNoExp
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}, err
	}
	var p struct {
		Exp int64 `json:"exp"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return time.Time{}, err
	}
	if p.Exp == 0 {
		return time.Time{}, errNoExp
	}
	return time.Unix(p.Exp, 0), nil
}
