// Command signceiling measures the ceiling of an exchange: how many RSA-2048
// PKCS#1 v1.5 signatures per second this machine makes on every core, the way
// the Firebase Admin SDK signs a custom token. The load command builds it
// with the same toolchain settings (GOEXPERIMENT) as the bridge, so both use
// the same crypto backend, and runs it on the same cores.
package main

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Result is what signceiling prints, as one JSON line.
type Result struct {
	Signs        int64   `json:"signs"`
	Seconds      float64 `json:"seconds"`
	PerSecond    float64 `json:"perSecond"`
	CPUSeconds   float64 `json:"cpuSeconds"`
	Procs        int     `json:"procs"`
	GOEXPERIMENT string  `json:"goexperiment"`
}

func main() {
	d := flag.Duration("duration", 3*time.Second, "how long to sign")
	flag.Parse()
	if err := run(*d); err != nil {
		fmt.Fprintln(os.Stderr, "signceiling:", err)
		os.Exit(1)
	}
}

func run(d time.Duration) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("generating key: %w", err)
	}
	// A custom token's signing input is about 600 bytes.
	input := make([]byte, 600)
	procs := runtime.GOMAXPROCS(0)
	var n atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	cpu0 := cpuSeconds()
	start := time.Now()
	deadline := start.Add(d)
	for range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				sum := sha256.Sum256(input)
				if _, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:]); err != nil {
					failed.Store(err)
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	if err, ok := failed.Load().(error); ok {
		return fmt.Errorf("signing: %w", err)
	}
	secs := time.Since(start).Seconds()
	r := Result{Signs: n.Load(), Seconds: secs, PerSecond: float64(n.Load()) / secs,
		CPUSeconds: cpuSeconds() - cpu0, Procs: procs, GOEXPERIMENT: goexperiment()}
	return json.NewEncoder(os.Stdout).Encode(r)
}

// cpuSeconds is the user+system CPU time this process has used.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func goexperiment() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "GOEXPERIMENT" {
				return s.Value
			}
		}
	}
	return ""
}
