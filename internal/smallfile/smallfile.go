// Package smallfile reads the files an operator names in the
// configuration (a service-account key, the identity mapping), bounded so
// a wrong path (a log, a device) cannot fill memory at start-up.
package smallfile

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// Read returns the file at path, or an error when it is larger than limit
// bytes. Its error leaves the path out: the caller's message names it.
func Read(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path) //nolint:gosec // G304: the operator names this file in the configuration
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, pe.Err
		}
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("over %d bytes", limit)
	}
	return b, nil
}
