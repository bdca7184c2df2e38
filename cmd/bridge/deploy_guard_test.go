package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sharedBridge is one build of ./cmd/bridge for every deploy.sh test (it
// runs the bridge's own configuration check).
var sharedBridge = func() func(t *testing.T) string {
	var once sync.Once
	var bin string
	var err error
	return func(t *testing.T) string {
		t.Helper()
		once.Do(func() {
			if b := os.Getenv("DFBRIDGE_TEST_BRIDGE_BIN"); b != "" {
				bin = b
				return
			}
			dir, derr := os.MkdirTemp("", "dfbridge-deploy-test")
			if derr != nil {
				err = derr
				return
			}
			bin = filepath.Join(dir, "bridge")
			var out []byte
			out, err = exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
			if err != nil {
				err = &buildError{out: string(out)}
			}
		})
		require.NoError(t, err)
		return bin
	}
}()

type buildError struct{ out string }

func (e *buildError) Error() string { return "go build: " + e.out }

// filledSecrets replace the example's placeholders in filledSettings.
var filledSecrets = map[string]string{
	"DESCOPE_MANAGEMENT_KEY":      "K2VjJ9xQpL3mZt8RwN5bYc1FhD6sGa0EuTk7oIi4",
	"AUDIT_WEBHOOK_HMAC_SECRETS":  "q1Jx3bVt0d9oZk6H8p2WmCsyLrAeNuTgFiYwB5nD7cQ=",
	"EXTERNAL_TOKEN_HMAC_SECRETS": "Z8mK2pQw7RtY4uVx1NsB6cDe9FgH3jLa0oPiUyTr5Eo=",
}

// filledSettings is deploy/example.env as a user fills it in: the
// placeholders replaced by random secrets, private to its owner, with
// extra lines appended.
func filledSettings(t *testing.T, extra ...string) string {
	t.Helper()
	b, err := os.ReadFile("../../deploy/example.env")
	require.NoError(t, err)
	var lines []string
	for _, line := range strings.Split(string(b), "\n") {
		key, _, _ := strings.Cut(line, "=")
		if v, ok := filledSecrets[key]; ok {
			line = key + "=" + v
		}
		lines = append(lines, line)
	}
	lines = append(lines, extra...)
	p := filepath.Join(t.TempDir(), "dfbridge.env")
	require.NoError(t, os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600))
	return p
}

// fakeGcloud is a gcloud that records each call and answers as a fresh
// project would: nothing exists; a secret version added is version 7.
// Its state lets a second run see what the first one made.
const fakeGcloud = `#!/usr/bin/env bash
echo "$*" >> "$FAKE_GCLOUD_LOG"
args=" $* "
state=$FAKE_GCLOUD_STATE
case "$args" in
  *" secrets describe "*)
    name=$(sed -E 's/.* secrets describe ([^ ]+).*/\1/' <<<"$args")
    [ -f "$state/$name" ] || exit 1
    case "$args" in
      *labels.dfbridge-digest*) sed -n 1p "$state/$name" ;;
      *labels.dfbridge-version*) sed -n 2p "$state/$name" ;;
    esac ;;
  *" secrets versions add "*) cat >/dev/null; echo "projects/p/secrets/s/versions/7" ;;
  *" secrets update "*)
    name=$(sed -E 's/.* secrets update ([^ ]+).*/\1/' <<<"$args")
    labels=$(sed -E 's/.*--update-labels=([^ ]+).*/\1/' <<<"$args")
    digest=$(sed -E 's/.*dfbridge-digest=([^,]+).*/\1/' <<<"$labels")
    version=$(sed -E 's/.*dfbridge-version=([^, ]+).*/\1/' <<<"$labels")
    printf '%s\n%s\n' "$digest" "$version" > "$state/$name" ;;
  *" replace "*)
    file=$(sed -E 's/.* replace ([^ ]+).*/\1/' <<<"$args")
    cp "$file" "$state/$(basename "$file")" ;;
  *" describe "*) exit 1 ;;
esac
exit 0
`

// deployWithFakeGcloud runs deploy.sh for real with settings, against
// fakeGcloud sharing state across calls, and returns its output, its
// the calls gcloud got and its error.
func deployWithFakeGcloud(t *testing.T, settings, state string) (string, []string, error) {
	t.Helper()
	bin := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bin, "gcloud"), []byte(fakeGcloud), 0o755)) //nolint:gosec // G306: an executable
	log := filepath.Join(t.TempDir(), "calls")
	cmd := exec.Command("../../deploy/deploy.sh", "--settings", settings)
	cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "DFBRIDGE_BRIDGE=" + sharedBridge(t),
		"FAKE_GCLOUD_LOG=" + log, "FAKE_GCLOUD_STATE=" + state}
	out, err := cmd.CombinedOutput()
	var calls []string
	if b, rerr := os.ReadFile(log); rerr == nil {
		calls = strings.Split(strings.TrimSpace(string(b)), "\n")
	}
	return string(out), calls, err
}

// Each easy mistake stops deploy.sh, run for real, before gcloud is
// called at all, with a line naming the setting and the fix.
func TestDeployRefusesMistakesBeforeAnyChange(t *testing.T) {
	t.Parallel()
	garbagePEM := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(garbagePEM, []byte("not a certificate\n"), 0o600))
	example := func(t *testing.T) string { // the example as shipped, made private
		b, err := os.ReadFile("../../deploy/example.env")
		require.NoError(t, err)
		p := filepath.Join(t.TempDir(), "example.env")
		require.NoError(t, os.WriteFile(p, b, 0o600))
		return p
	}
	cases := []struct {
		name     string
		settings func(t *testing.T) string
		want     []string
	}{
		{"the example's placeholders", example, []string{"DESCOPE_MANAGEMENT_KEY", "placeholder"}},
		{"the example's connector secret", func(t *testing.T) string {
			return filledSettings(t, "EXTERNAL_TOKEN_HMAC_SECRETS=replace-with-another-random-secret")
		}, []string{"EXTERNAL_TOKEN_HMAC_SECRETS", "placeholder", "openssl rand -base64 32"}},
		{"a weak secret", func(t *testing.T) string {
			return filledSettings(t, "AUDIT_WEBHOOK_HMAC_SECRETS=aaaaaaaaaaaaaaaaaaaaaaaa")
		},
			[]string{"AUDIT_WEBHOOK_HMAC_SECRETS", "entropy"}},
		{"a typo in a bridge variable", func(t *testing.T) string { return filledSettings(t, "CORS_ALLOWED_ORIGIN=https://app.example.com") },
			[]string{"CORS_ALLOWED_ORIGIN is neither", "nearest valid name is CORS_ALLOWED_ORIGINS"}},
		{"a typo in a deployment key", func(t *testing.T) string { return filledSettings(t, "MAX_INSTANCE=3") },
			[]string{"MAX_INSTANCE is neither", "nearest valid name is MAX_INSTANCES"}},
		{"a mapping typo", func(t *testing.T) string { return filledSettings(t, `IDENTITY_MAPPING={"uid":{"prefx":"d:"}}`) },
			[]string{"IDENTITY_MAPPING", "prefx"}},
		{"a CA file that is no PEM", func(t *testing.T) string {
			return filledSettings(t, "REDIS_URL=rediss://:Qm9vd2Vyc1N0cmluZ0F1dGgxMjM0@10.0.0.3:6378/0", "REDIS_CA_PEM="+garbagePEM)
		}, []string{"REDIS_CA_FILE", "no PEM certificate"}},
		{"the Auth emulator left set", func(t *testing.T) string { return filledSettings(t, "FIREBASE_AUTH_EMULATOR_HOST=127.0.0.1:9099") },
			[]string{"FIREBASE_AUTH_EMULATOR_HOST"}},
		{"a settings file others can read", func(t *testing.T) string {
			p := filledSettings(t)
			require.NoError(t, os.Chmod(p, 0o644)) //nolint:gosec // G302: the mistake under test
			return p
		}, []string{"readable by others", "chmod 600"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, calls, err := deployWithFakeGcloud(t, tc.settings(t), t.TempDir())
			require.Error(t, err, "%s", out)
			for _, w := range tc.want {
				assert.Contains(t, out, w)
			}
			assert.Empty(t, calls, "gcloud was called before the refusal")
		})
	}
}

// A real run on a fresh project (fake gcloud) makes everything with
// pinned secret versions and no read of any secret; a second run with the
// same values adds no version, and a changed value adds one and moves the
// manifests to it.
func TestDeployPinsSecretVersionsAndDetectsChangesWithoutReadingThem(t *testing.T) {
	t.Parallel()
	state := t.TempDir()
	settings := filledSettings(t)
	out, calls, err := deployWithFakeGcloud(t, settings, state)
	require.NoError(t, err, "%s", out)
	all := strings.Join(calls, "\n")
	assert.Contains(t, all, "secrets create dfbridge-external-token-hmac-secrets --replication-policy=user-managed --locations=europe-west1")
	assert.Equal(t, 3, strings.Count(all, "secrets versions add"), "one version per secret")
	assert.NotContains(t, all, "versions access")
	assert.Contains(t, all, "builds submit --tag europe-west1-docker.pkg.dev/my-firebase-project/dfbridge/dfbridge:v1",
		"the image is built when it is not there")
	svc, err := os.ReadFile(filepath.Join(state, "service.yaml"))
	require.NoError(t, err)
	assert.Contains(t, string(svc), `secretKeyRef: { name: dfbridge-external-token-hmac-secrets, key: "7" }`)
	assert.NotContains(t, string(svc), "key: latest")

	_, calls, err = deployWithFakeGcloud(t, settings, state)
	require.NoError(t, err)
	assert.NotContains(t, strings.Join(calls, "\n"), "secrets versions add", "unchanged values add no version")

	changed := filledSettings(t, "EXTERNAL_TOKEN_HMAC_SECRETS=N4vR8tW2yB6dF0hJ3lP7sX1zC5gK9mQ2uE8aT4oI6w=")
	_, calls, err = deployWithFakeGcloud(t, changed, state)
	require.NoError(t, err)
	adds := regexp.MustCompile(`secrets versions add (\S+)`).FindAllStringSubmatch(strings.Join(calls, "\n"), -1)
	require.Len(t, adds, 1)
	assert.Equal(t, "dfbridge-external-token-hmac-secrets", adds[0][1], "only the changed secret gets a version")
}
