package bridge

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The domain imports the standard library, golang.org/x/sync and the
// project only: no vendor SDK and no flow machinery (that is package flow).
func TestTheDomainImportsOnlyTheStandardLibraryXSyncAndTheProject(t *testing.T) {
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		require.NoError(t, err)
		for _, imp := range f.Imports {
			path, err := strconv.Unquote(imp.Path.Value)
			require.NoError(t, err)
			first, _, _ := strings.Cut(path, "/")
			allowed := !strings.Contains(first, ".") ||
				strings.HasPrefix(path, "golang.org/x/sync/") ||
				(strings.HasPrefix(path, "github.com/dfbridge/dfbridge/") && !strings.HasPrefix(path, "github.com/dfbridge/dfbridge/flow"))
			assert.True(t, allowed, "%s imports %s", name, path)
		}
	}
}
