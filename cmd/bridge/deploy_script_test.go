package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// envEntry is one entry of a manifest's env list: a value or a secret.
type envEntry struct {
	Name      string `yaml:"name"`
	Value     string `yaml:"value"`
	ValueFrom struct {
		SecretKeyRef struct {
			Name string `yaml:"name"`
		} `yaml:"secretKeyRef"`
	} `yaml:"valueFrom"`
}

func (e envEntry) String() string {
	if e.ValueFrom.SecretKeyRef.Name != "" {
		return "secret:" + e.ValueFrom.SecretKeyRef.Name
	}
	return e.Value
}

// manifestEnv reads the one container's env of a rendered service or job.
func manifestEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, yaml.Unmarshal(b, &doc))
	spec := doc["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
	if tmpl, ok := spec["template"]; ok { // a job: execution → task
		spec = tmpl.(map[string]any)["spec"].(map[string]any)
	}
	containers := spec["containers"].([]any)
	require.Len(t, containers, 1)
	raw, err := yaml.Marshal(containers[0].(map[string]any)["env"])
	require.NoError(t, err)
	var entries []envEntry
	require.NoError(t, yaml.Unmarshal(raw, &entries))
	env := map[string]string{}
	for _, e := range entries {
		env[e.Name] = e.String()
	}
	return env
}

// render runs deploy.sh --render with settings into a temporary folder.
func render(t *testing.T, settings string) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("../../deploy/deploy.sh", "--settings", settings, "--render", dir)
	cmd.Env = append(os.Environ(), "DFBRIDGE_BRIDGE="+sharedBridge(t))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	return dir
}

// The checked-in manifests are exactly what deploy.sh renders from
// deploy/example.env, so the guide's files and the script cannot drift.
func TestCheckedInManifestsAreTheScriptsRendering(t *testing.T) {
	t.Parallel()
	dir := render(t, "../../deploy/example.env")
	for _, f := range []string{"service.yaml", "reconcile-job.yaml", "doctor-job.yaml"} {
		want, err := os.ReadFile(filepath.Join(dir, f))
		require.NoError(t, err)
		got, err := os.ReadFile(filepath.Join("../../deploy", f))
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got), "deploy/%s differs from deploy.sh's rendering: run deploy/deploy.sh --settings deploy/example.env --render deploy/", f)
	}
}

// The reconcile and doctor jobs carry the service's whole environment,
// value for value: in particular every variable that changes UIDs,
// claims, lifecycle decisions or Redis use.
func TestJobsCarryTheServicesEnvironment(t *testing.T) {
	t.Parallel()
	pem := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(pem, []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), 0o600))
	settings := filepath.Join(t.TempDir(), "all.env")
	require.NoError(t, os.WriteFile(settings, []byte(strings.Join([]string{
		"PROJECT_ID=p1", "REGION=r1", "IMAGE=img", "VPC_NETWORK=default", "REDIS_CA_PEM=" + pem,
		"DESCOPE_PROJECT_ID=P2x", "DESCOPE_BASE_URL=https://api.descope.com",
		`IDENTITY_MAPPING={"uid":{"prefix":"d:"},"tenants":{"map":{"T1":"t-1"}}}`,
		"DESCOPE_JWT_AUTH_SCHEMA=tenantOnly", "DESCOPE_RESOLVE_PERMISSIONS=true", "TOKEN_LEEWAY=2s",
		"AUDIT_WEBHOOK_ON_USER_DELETED=delete", "LIFECYCLE_REMOVED_TTL=240h", "LIFECYCLE_PROFILE_SYNC=all",
		"LIFECYCLE_DESCOPE_RPS=20", "LIFECYCLE_FIREBASE_RPS=100",
		"REDIS_URL=rediss://:pw@10.0.0.3:6378/0", "DESCOPE_MANAGEMENT_KEY=K2x", "AUDIT_WEBHOOK_HMAC_SECRETS=s3cret-s3cret-s3cret",
	}, "\n")), 0o600))
	dir := render(t, settings)
	service := manifestEnv(t, filepath.Join(dir, "service.yaml"))
	mustCarry := []string{"DESCOPE_PROJECT_ID", "DESCOPE_BASE_URL", "FIREBASE_PROJECT_ID", "IDENTITY_MAPPING",
		"DESCOPE_JWT_AUTH_SCHEMA", "DESCOPE_RESOLVE_PERMISSIONS", "TOKEN_LEEWAY", "AUDIT_WEBHOOK_ON_USER_DELETED",
		"LIFECYCLE_REMOVED_TTL", "LIFECYCLE_PROFILE_SYNC", "REDIS_URL", "REDIS_CA_FILE", "DESCOPE_MANAGEMENT_KEY"}
	for _, job := range []string{"reconcile-job.yaml", "doctor-job.yaml"} {
		env := manifestEnv(t, filepath.Join(dir, job))
		for _, k := range mustCarry {
			assert.NotEmpty(t, service[k], "the service sets %s", k)
			assert.Equal(t, service[k], env[k], "%s carries %s as the service does", job, k)
		}
		for k, v := range service {
			assert.Equal(t, v, env[k], "%s carries %s as the service does", job, k)
		}
		for k := range env {
			if k != "K_SERVICE" {
				assert.Contains(t, service, k, "%s sets %s, which the service does not", job, k)
			}
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "service.yaml"))
	require.NoError(t, err)
	assert.NotContains(t, string(b), "s3cret-s3cret-s3cret", "secrets are references, never values")
	assert.NotContains(t, string(b), "rediss://:pw@", "REDIS_URL holds AUTH: a secret")
	assert.Contains(t, string(b), "secretName: dfbridge-redis-ca", "the Memorystore CA is mounted from Secret Manager")
}

// deploy.sh --dry-run prints every command and needs no gcloud: the APIs
// (Scheduler, Secret Manager, Artifact Registry and Cloud Build included),
// the image, the account and its grants (a custom role, not
// roles/firebaseauth.admin), the secrets (never their values; in the
// region; pinned), the service, the jobs, the schedule, then doctor.
func TestDeployDryRunPrintsEveryCommand(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("../../deploy/deploy.sh", "--settings", filledSettings(t), "--dry-run")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "DFBRIDGE_BRIDGE=" + sharedBridge(t)} // no gcloud on it
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	text := string(out)
	for _, want := range []string{
		"services enable run.googleapis.com iamcredentials.googleapis.com identitytoolkit.googleapis.com secretmanager.googleapis.com cloudscheduler.googleapis.com iam.googleapis.com artifactregistry.googleapis.com cloudbuild.googleapis.com",
		"artifacts repositories create dfbridge --repository-format=docker --location europe-west1",
		"builds submit --tag europe-west1-docker.pkg.dev/my-firebase-project/dfbridge/dfbridge:v1",
		"iam service-accounts add-iam-policy-binding dfbridge@my-firebase-project.iam.gserviceaccount.com --member=serviceAccount:dfbridge@my-firebase-project.iam.gserviceaccount.com --role=roles/iam.serviceAccountTokenCreator",
		"iam roles create dfbridge_accounts",
		"--role=projects/my-firebase-project/roles/dfbridge_accounts",
		"secrets create dfbridge-descope-management-key --replication-policy=user-managed --locations=europe-west1",
		"run services replace", "run jobs replace", "scheduler jobs create http dfbridge-reconcile-hourly",
		"run jobs execute dfbridge-doctor --region europe-west1 --wait",
	} {
		assert.Contains(t, text, want)
	}
	assert.NotContains(t, text, "roles/firebaseauth.admin", "no project-wide admin role")
	assert.NotContains(t, text, "versions access", "no secret is read back")
	assert.NotContains(t, text, "replication-policy=automatic", "replicas stay in the region")
	for _, secret := range filledSecrets {
		assert.NotContains(t, text, secret, "no secret value is printed")
	}
}
