package main

import (
	"errors"
	"sync"
)

// readiness holds the last result of a start-up check.
type readiness struct {
	mu   sync.Mutex
	done bool
	err  error
}

var errNotChecked = errors.New("not checked yet")

func (r *readiness) set(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done, r.err = true, err
}

func (r *readiness) get() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.done {
		return errNotChecked
	}
	return r.err
}
