package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// configVars is every environment variable Config reads.
func configVars() map[string]bool {
	vars := map[string]bool{}
	for _, v := range configReference() {
		vars[v.name] = true
	}
	return vars
}

// The Cloud Run definition sets only variables the service reads, probes
// routes the service serves, and talks to the port it listens on.
func TestCloudRunServiceMatchesTheService(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../deploy/service.yaml")
	require.NoError(t, err)
	var svc struct {
		Kind string `yaml:"kind"`
		Spec struct {
			Template struct {
				Spec struct {
					ServiceAccountName string `yaml:"serviceAccountName"`
					Containers         []struct {
						Ports []struct {
							ContainerPort int `yaml:"containerPort"`
						} `yaml:"ports"`
						Env []struct {
							Name  string `yaml:"name"`
							Value string `yaml:"value"`
						} `yaml:"env"`
						StartupProbe  httpProbe `yaml:"startupProbe"`
						LivenessProbe httpProbe `yaml:"livenessProbe"`
					} `yaml:"containers"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	require.NoError(t, yaml.Unmarshal(b, &svc))
	require.Equal(t, "Service", svc.Kind)
	spec := svc.Spec.Template.Spec
	require.Len(t, spec.Containers, 1)
	c := spec.Containers[0]

	vars := configVars()
	for _, e := range c.Env {
		t.Run(e.Name+" is a variable the service reads", func(t *testing.T) {
			assert.True(t, vars[e.Name] || goRuntimeVars[e.Name])
		})
	}
	t.Run("the container port is the default PORT", func(t *testing.T) {
		require.Len(t, c.Ports, 1)
		assert.Equal(t, defaultConfig().Server.Port, c.Ports[0].ContainerPort)
		assert.Equal(t, c.Ports[0].ContainerPort, c.StartupProbe.HTTPGet.Port)
		assert.Equal(t, c.Ports[0].ContainerPort, c.LivenessProbe.HTTPGet.Port)
	})
	t.Run("traffic waits for readiness and liveness is the process", func(t *testing.T) {
		assert.Equal(t, "/readyz", c.StartupProbe.HTTPGet.Path)
		assert.Equal(t, "/healthz", c.LivenessProbe.HTTPGet.Path)
	})
	t.Run("the per-address limit reads the client from the front end's X-Forwarded-For", func(t *testing.T) {
		hops := ""
		for _, e := range c.Env {
			if e.Name == "TRUSTED_PROXY_HOPS" {
				hops = e.Value
			}
		}
		assert.Equal(t, "1", hops)
	})
	t.Run("the service runs as its own account, keyless", func(t *testing.T) {
		assert.NotEmpty(t, spec.ServiceAccountName)
		for _, e := range c.Env {
			assert.NotContains(t, []string{"GOOGLE_APPLICATION_CREDENTIALS", "FIREBASE_SERVICE_ACCOUNT_JSON", "FIREBASE_AUTH_EMULATOR_HOST"}, e.Name)
		}
	})
}

// goRuntimeVars are the Go runtime's own variables a manifest may set.
var goRuntimeVars = map[string]bool{"GOMEMLIMIT": true, "GOGC": true, "GOMAXPROCS": true}

type httpProbe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port int    `yaml:"port"`
	} `yaml:"httpGet"`
}

// The image is built by the script scripts/check-static.sh proves static,
// and runs as non-root on a base with no shell.
func TestDockerfileBuildsTheCheckedStaticBinary(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../Dockerfile")
	require.NoError(t, err)
	df := string(b)
	froms := regexp.MustCompile(`(?m)^FROM\s+(\S+)`).FindAllStringSubmatch(df, -1)
	require.GreaterOrEqual(t, len(froms), 2, "the Dockerfile must be multi-stage")
	final := froms[len(froms)-1][1]

	assert.Regexp(t, `(?m)^RUN GOEXPERIMENT="\$GOEXPERIMENT" scripts/build-static\.sh /out/bridge$`, df, "the image must use the checked build")
	assert.Regexp(t, `(?m)^ARG GOEXPERIMENT=$`, df, "the default image is pure Go; BoringCrypto is opt-in")
	assert.Regexp(t, `^(gcr\.io/distroless/static[-\w]*:nonroot|scratch)$`, final, "the final stage has no shell")
	assert.Regexp(t, `(?m)^USER nonroot`, df)
	assert.Regexp(t, `(?m)^ENTRYPOINT \["/bridge"\]$`, df, "exec form: no shell to run it")
}

// Every variable the service reads is in the configuration reference.
func TestConfigurationReferenceDocumentsEveryVariable(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../docs/configuration.md")
	require.NoError(t, err)
	for name := range configVars() {
		t.Run(name+" is documented", func(t *testing.T) {
			assert.True(t, strings.Contains(string(b), "| `"+name+"` |"), "docs/configuration.md has no row for %s", name)
		})
	}
}

// The README is the front door: short, and every docs/ page it links exists
// (and every docs/ page is linked).
func TestReadmeIsShortAndLinksTheDocs(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	readme := string(b)
	assert.LessOrEqual(t, strings.Count(readme, "\n"), 300, "README.md is at most 300 lines")
	pages, err := filepath.Glob("../../docs/*.md")
	require.NoError(t, err)
	require.NotEmpty(t, pages)
	for _, p := range pages {
		link := "(docs/" + filepath.Base(p) + ")"
		assert.Contains(t, readme, link, "README links %s", p)
	}
	for _, m := range regexp.MustCompile(`\]\((docs/[^)#]+)`).FindAllStringSubmatch(readme, -1) {
		_, err := os.Stat("../../" + m[1])
		assert.NoError(t, err, "README links %s, which exists", m[1])
	}
}

// The reconcile Job runs `bridge reconcile` from the service's image with
// variables the service reads, including the management key it needs.
func TestCloudRunReconcileJobRunsReconcile(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../deploy/reconcile-job.yaml")
	require.NoError(t, err)
	var job struct {
		Kind string `yaml:"kind"`
		Spec struct {
			Template struct {
				Spec struct {
					Template struct {
						Spec struct {
							ServiceAccountName string `yaml:"serviceAccountName"`
							Containers         []struct {
								Args []string `yaml:"args"`
								Env  []struct {
									Name string `yaml:"name"`
								} `yaml:"env"`
							} `yaml:"containers"`
						} `yaml:"spec"`
					} `yaml:"template"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	require.NoError(t, yaml.Unmarshal(b, &job))
	require.Equal(t, "Job", job.Kind)
	spec := job.Spec.Template.Spec.Template.Spec
	require.Len(t, spec.Containers, 1)
	c := spec.Containers[0]
	assert.Equal(t, []string{"reconcile"}, c.Args)
	assert.Contains(t, spec.ServiceAccountName, "dfbridge@")
	vars := configVars()
	names := map[string]bool{}
	for _, e := range c.Env {
		assert.True(t, vars[e.Name] || goRuntimeVars[e.Name], "%s is not a variable the bridge reads", e.Name)
		names[e.Name] = true
	}
	for _, need := range []string{"DESCOPE_PROJECT_ID", "FIREBASE_PROJECT_ID", "DESCOPE_MANAGEMENT_KEY"} {
		assert.True(t, names[need], "the job sets %s", need)
	}
}
