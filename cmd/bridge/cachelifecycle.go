package main

import (
	"bytes"
	"sync"
)

// keySetWatch tells whether a fetched key set differs from the last one.
type keySetWatch struct {
	mu   sync.Mutex
	last []byte
}

func (w *keySetWatch) changed(jwks []byte) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if bytes.Equal(w.last, jwks) {
		return false
	}
	w.last = jwks
	return true
}
