//go:build pprof

package main

import (
	"net/http"
	"net/http/pprof"
	"os"
)

// A build with -tags pprof serves Go's profiler on DFBRIDGE_PPROF_ADDR (a
// loopback address), for the load command's -profile. Release builds have
// no such tag, so the profiler is not in the binary at all.
func init() {
	addr := os.Getenv("DFBRIDGE_PPROF_ADDR")
	if addr == "" {
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	go func() { _ = http.ListenAndServe(addr, mux) }()
}
