// Package safe keeps a dependency's bad answer from taking the process
// down: the goroutines the bridge runs around Redis, IAM and Descope defer
// Catch, which turns a panic (a client library's unchecked type assertion
// on a reply it did not expect, say) into an error their callers already
// handle: a fallback, a retry, a failed job.
package safe

import (
	"fmt"
	"runtime/debug"
)

// PanicError is a recovered panic.
type PanicError struct {
	// Component names what panicked, for the log and the metric.
	Component string
	Value     any
	Stack     []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("%s panicked: %v", e.Component, e.Value)
}

// Catch recovers, when deferred directly, a panic and stores it in *errp as a
// *PanicError. A panic of a nil errp is still recovered and dropped.
func Catch(component string, errp *error) {
	if v := recover(); v != nil {
		if errp != nil {
			*errp = &PanicError{Component: component, Value: v, Stack: debug.Stack()}
		}
	}
}

// Do runs fn and returns its error, or its panic as a *PanicError.
func Do(component string, fn func() error) (err error) {
	defer Catch(component, &err)
	return fn()
}
