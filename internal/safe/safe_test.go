package safe_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dfbridge/dfbridge/internal/safe"
)

func TestAPanicBecomesAnError(t *testing.T) {
	err := safe.Do("redis", func() error {
		var v any = "a string"
		_ = v.([]any) // the shape of redis_rate's unchecked assertion
		return nil
	})
	var pe *safe.PanicError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "redis", pe.Component)
	assert.Contains(t, err.Error(), "interface conversion")
	assert.NotEmpty(t, pe.Stack)
}

func TestAnErrorPassesThrough(t *testing.T) {
	want := errors.New("plain")
	assert.Equal(t, want, safe.Do("x", func() error { return want }))
	assert.NoError(t, safe.Do("x", func() error { return nil }))
}
