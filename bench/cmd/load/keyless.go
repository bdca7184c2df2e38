package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/dfbridge/dfbridge/emulator/iamstub"
)

// runKeyless measures keyless signing: the bridge signs each custom token
// through IAM signBlob, here the IAM stand-in served over TLS with HTTP/2
// with 30 ms of latency per call, as the bridge would meet IAM from Cloud
// Run. The bridge reaches it as Google: an HTTPS proxy (HTTPS_PROXY) routes
// iamcredentials.googleapis.com to the stand-in, whose certificate a test CA
// signs and the bridge trusts through SSL_CERT_FILE; the metadata server is
// the stand-in's too (GCE_METADATA_HOST). Nothing in the bridge is switched
// for the benchmark.
func runKeyless(ctx context.Context, o options, out io.Writer, bin, dir string, env func(...string) []string, sessions []string) error {
	const latency = 30 * time.Millisecond
	iam, err := startIAM(dir, latency)
	if err != nil {
		return err
	}
	defer iam.close()
	stub, conns := iam.stub, &iam.conns

	b, err := startBridge(ctx, bin, dir, "keyless", env(append(iam.env, "EXCHANGE_CACHE_SIZE=0", "METRICS_ON_MAIN_PORT=true")...))
	if err != nil {
		return err
	}
	defer b.stop()
	if _, err := drive(ctx, b.url, sessions, 16, time.Second); err != nil { // warm-up
		return err
	}

	fmt.Fprintf(out, "keyless signing: IAM signBlob stand-in over TLS + HTTP/2, %s per call, uncached\n", latency)
	fmt.Fprintf(out, "  (the stand-in signs once at start and answers that signature: IAM signs on Google's machines, not these cores)\n")
	fmt.Fprintf(out, "%5s %-20s %7s %8s %8s %5s %9s %9s %9s %10s\n", "conns", "", "req/s", "p50", "p99", "5xx",
		"conns/RTT", "CPU bound", "of bound", "new conns")
	phase := func(c int, name string) error {
		before, calls := conns.Load(), stub.Calls().SignBlobs
		bcpu, scpu := b.cpu(), selfCPU()
		r, err := drive(ctx, b.url, sessions, c, o.duration)
		if err != nil {
			return err
		}
		// The CPU bound: all cores divided by the CPU one exchange costs
		// here, the bridge's and this process's (the load, the proxy and
		// the stand-in's TLS and HTTP/2, all on the same cores).
		perEx := (b.cpu() - bcpu + selfCPU() - scpu).Seconds() / float64(max(r.ok, 1))
		cpuBound := float64(numCPU()) / perEx
		connBound := float64(c) / latency.Seconds()
		fmt.Fprintf(out, "%5d %-20s %7.0f %8s %8s %5d %9.0f %9.0f %8.0f%% %10s\n", c, name, r.rate(), ms(r.quantile(0.5)),
			ms(r.quantile(0.99)), r.errors, connBound, cpuBound, 100*r.rate()/min(connBound, cpuBound),
			fmt.Sprintf("%d/%d", conns.Load()-before, stub.Calls().SignBlobs-calls))
		return nil
	}
	for _, c := range []int{16, 64} {
		if err := phase(c, "signBlob at 30ms"); err != nil {
			return err
		}
	}
	// A fifth of the calls throttled (IAM quota, 429 with Retry-After: 0).
	stub.SetFault(func(n int) (int, string) {
		if n%5 == 0 {
			return http.StatusTooManyRequests, "0"
		}
		return 0, ""
	})
	seen, err := histogramQuantiles(b.url, `dfbridge_iam_signblob_duration_seconds_bucket{outcome="ok",le="`)
	if err != nil {
		return err
	}
	if err := phase(16, "20% of calls 429"); err != nil {
		return err
	}
	stub.SetFault(nil)
	fmt.Fprintf(out, "  signBlob calls as the bridge saw them (dfbridge_iam_signblob_duration_seconds{outcome=\"ok\"}, both unthrottled phases): %s\n", seen)
	fmt.Fprintf(out, "  conns/RTT: connections ÷ IAM latency, the rate if every exchange only waited for its signBlob;\n")
	fmt.Fprintf(out, "  CPU bound: cores ÷ CPU per exchange (the bridge's, plus the load, proxy and stand-in's TLS sharing the cores);\n")
	fmt.Fprintf(out, "  of bound: exchanges/s over the smaller of the two;\n")
	fmt.Fprintf(out, "  new conns: TLS connections the bridge opened to IAM during the phase / signBlob calls in it;\n")
	fmt.Fprintf(out, "  5xx: answers that were not 200 (the load sends only valid sessions)\n\n")
	return nil
}

// iamStandIn is the IAM signBlob stand-in served as Google would serve it:
// over TLS with HTTP/2, reached through an HTTPS proxy, with the metadata
// server beside it. env is what a bridge needs to sign keylessly through it.
type iamStandIn struct {
	stub  *iamstub.Stub
	conns atomic.Int64
	env   []string
	close func()
}

// startIAM starts the stand-in with latency per call.
func startIAM(dir string, latency time.Duration) (*iamStandIn, error) {
	stub, err := iamstub.New(iamstub.Options{Email: "dfbridge@demo-dfbridge.iam.gserviceaccount.com", ProjectID: "demo-dfbridge", Latency: latency, SignOnce: true})
	if err != nil {
		return nil, err
	}
	caFile, leaf, err := testCA(dir, iamstub.Host)
	if err != nil {
		return nil, err
	}
	iam := &iamStandIn{stub: stub}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{
		Handler:   stub.Handler(),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{leaf}, NextProtos: []string{"h2", "http/1.1"}},
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				iam.conns.Add(1)
			}
		},
	}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	meta := httptest.NewServer(stub.Handler())
	proxy, err := connectProxy(ln.Addr().String())
	if err != nil {
		srv.Close()
		meta.Close()
		return nil, err
	}
	iam.close = func() { proxy.Close(); meta.Close(); srv.Close() }
	iam.env = []string{"GOOGLE_APPLICATION_CREDENTIALS=", "FIREBASE_PROJECT_ID=demo-dfbridge",
		"GCE_METADATA_HOST=" + meta.Listener.Addr().String(), "SSL_CERT_FILE=" + caFile,
		"HTTPS_PROXY=http://" + proxy.Addr().String(), "NO_PROXY=127.0.0.1,localhost"}
	return iam, nil
}

// testCA writes a fresh CA's certificate to dir/ca.pem and returns a leaf
// for host that it signed.
func testCA(dir, host string) (string, tls.Certificate, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", tls.Certificate{}, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "dfbridge benchmark CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return "", tls.Certificate{}, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return "", tls.Certificate{}, err
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", tls.Certificate{}, err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		return "", tls.Certificate{}, err
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		return "", tls.Certificate{}, err
	}
	return caFile, tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: leafKey}, nil
}

// connectProxy is an HTTPS proxy that sends every CONNECT to target.
func connectProxy(target string) (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go func() {
		_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodConnect {
				http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			hj, ok := w.(http.Hijacker)
			if !ok {
				up.Close()
				return
			}
			w.WriteHeader(http.StatusOK)
			down, buf, err := hj.Hijack()
			if err != nil {
				up.Close()
				return
			}
			if n := buf.Reader.Buffered(); n > 0 {
				b, _ := buf.Reader.Peek(n)
				_, _ = up.Write(b)
			}
			go func() { _, _ = io.Copy(up, down); up.Close() }()
			_, _ = io.Copy(down, up)
			down.Close()
		}))
	}()
	return ln, nil
}
