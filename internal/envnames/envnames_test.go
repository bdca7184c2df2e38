package envnames_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/dfbridge/dfbridge/internal/envnames"
)

type inner struct {
	B string `envconfig:"CORS_ALLOWED_ORIGINS"`
}

type part struct {
	A     string `envconfig:"DESCOPE_PROJECT_ID"`
	Inner inner
}

func TestNamesComeFromTheTagsNestedStructsIncluded(t *testing.T) {
	known := envnames.Of([]any{&part{}}, "GOMEMLIMIT")
	assert.Equal(t, map[string]bool{"DESCOPE_PROJECT_ID": true, "CORS_ALLOWED_ORIGINS": true, "GOMEMLIMIT": true}, known)
}

func TestATypoIsNamedWithTheVariableItWasMeantToBe(t *testing.T) {
	known := envnames.Of([]any{&part{}})
	misses := envnames.NearMisses([]string{"CORS_ALLOWED_ORIGIN=x", "DESCOPE_PROJECT_ID=P2", "HOME=/root", "PATH=/bin"}, known)
	assert.Equal(t, []string{"CORS_ALLOWED_ORIGIN is not a bridge variable; did you mean CORS_ALLOWED_ORIGINS?"}, misses)
	best, d := envnames.Nearest("DESCOPE_PROJCT_ID", known)
	assert.Equal(t, "DESCOPE_PROJECT_ID", best)
	assert.Equal(t, 1, d)
}
