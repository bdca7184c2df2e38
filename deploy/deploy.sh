#!/usr/bin/env bash
# Deploys dfbridge to Cloud Run in one command, idempotently: the APIs, the
# image (built with Cloud Build unless it exists), the runtime service
# account and its least-privilege grants, the secrets (pinned versions),
# the service, the reconcile job and its hourly schedule, then
# `bridge doctor` once as a job.
#
# Before it changes anything it checks the settings: the file must be
# private (chmod 600), every key must be a deployment key or a bridge
# variable, and the bridge's own configuration check (`bridge check`, which
# refuses placeholders and weak secrets, emulator settings on Cloud Run, a
# mapping typo or a bad CA) must pass. It runs the bridge from
# DFBRIDGE_BRIDGE (a bridge binary) or, with Go installed, from this
# repository.
#
#   cp deploy/example.env deploy/dfbridge.env    # fill it in
#   deploy/deploy.sh --settings deploy/dfbridge.env
#   deploy/deploy.sh --settings deploy/dfbridge.env --dry-run   # print every command; needs no gcloud
#   deploy/deploy.sh --settings deploy/example.env --render deploy/   # write the manifests only
#
# One settings file is the only source: every bridge variable in it goes to
# the service, the reconcile job and the doctor job alike, so they cannot
# compute different UIDs, claims or Redis state. Secret values never appear
# in the manifests or the printed commands: they go to Secret Manager and
# the manifests reference them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

settings="" dry=false render=""
while [ $# -gt 0 ]; do
  case "$1" in
    --settings) settings=$2; shift 2 ;;
    --dry-run) dry=true; shift ;;
    --render) render=$2; shift 2 ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "deploy.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$settings" ] || { echo "deploy.sh: --settings FILE is required (start from deploy/example.env)" >&2; exit 2; }
[ -r "$settings" ] || { echo "deploy.sh: cannot read $settings" >&2; exit 2; }
# The file holds the secrets: it must not be readable by anyone else. (The
# manifests alone hold none, so --render does not ask.)
if [ -z "$render" ]; then
  mode=$(stat -c %a "$settings")
  if [ $((8#$mode & 8#077)) -ne 0 ]; then
    echo "deploy.sh: $settings is readable by others (mode $mode) and holds secrets; run: chmod 600 $settings" >&2
    exit 2
  fi
fi

# ---- settings ---------------------------------------------------------------
# Keys that shape the deployment itself; every other key is a bridge variable.
deploy_keys=" PROJECT_ID REGION IMAGE SERVICE PUBLIC MIN_INSTANCES MAX_INSTANCES VPC_NETWORK VPC_SUBNET SCHEDULE REDIS_CA_PEM "
# Bridge variables that are secrets: stored in Secret Manager, referenced.
secret_keys=" DESCOPE_MANAGEMENT_KEY AUDIT_WEBHOOK_HMAC_SECRETS AUDIT_WEBHOOK_BEARER_SECRETS AUDIT_WEBHOOK_API_KEYS AUDIT_WEBHOOK_BASIC_AUTH EXTERNAL_TOKEN_HMAC_SECRETS EXTERNAL_TOKEN_BEARER_SECRETS EXTERNAL_TOKEN_API_KEYS EXTERNAL_TOKEN_BASIC_AUTH REDIS_URL "

declare -A set=()
order=()
while IFS= read -r line || [ -n "$line" ]; do
  line=${line%$'\r'}
  case "$line" in ''|'#'*) continue ;; esac
  key=${line%%=*}; value=${line#*=}
  [[ "$key" =~ ^[A-Z][A-Z0-9_]*$ ]] || { echo "deploy.sh: $settings: not KEY=value: $key" >&2; exit 2; }
  # An optional pair of quotes around the whole value is the file's, not the value's.
  if [[ "$value" =~ ^\'(.*)\'$ ]] || [[ "$value" =~ ^\"(.*)\"$ ]]; then value=${BASH_REMATCH[1]}; fi
  [ -n "${set[$key]+x}" ] || order+=("$key")
  set[$key]=$value
done < "$settings"

need() { [ -n "${set[$1]:-}" ] || { echo "deploy.sh: $settings must set $1" >&2; exit 2; }; }
need PROJECT_ID; need REGION; need IMAGE; need DESCOPE_PROJECT_ID
: "${set[SERVICE]:=dfbridge}" "${set[PUBLIC]:=true}" "${set[MIN_INSTANCES]:=1}" "${set[MAX_INSTANCES]:=20}" "${set[SCHEDULE]:=17 * * * *}"
project=${set[PROJECT_ID]} region=${set[REGION]} service=${set[SERVICE]}
sa="$service@$project.iam.gserviceaccount.com"
scheduler_sa="$service-scheduler@$project.iam.gserviceaccount.com"

# What every production deployment needs, unless the file says otherwise
# (README, "Production checklist").
# GOMEMLIMIT keeps the collector ahead of the container's 256 MiB.
defaults=(FIREBASE_PROJECT_ID="$project" GOOGLE_CLOUD_PROJECT="$project" TRUSTED_PROXY_HOPS=1 LOG_LEVEL=info
  METRICS_ADDR=127.0.0.1:9464 SHUTDOWN_DRAIN=2s SHUTDOWN_TIMEOUT=8s GOMEMLIMIT=200MiB)
for kv in "${defaults[@]}"; do
  k=${kv%%=*}
  if [ -z "${set[$k]+x}" ]; then set[$k]=${kv#*=}; order+=("$k"); fi
done
for k in GOOGLE_APPLICATION_CREDENTIALS FIREBASE_SERVICE_ACCOUNT_JSON FIREBASE_AUTH_EMULATOR_HOST K_SERVICE PORT; do
  [ -z "${set[$k]:-}" ] || { echo "deploy.sh: $k must not be set for Cloud Run (keyless signing; Cloud Run sets the rest)" >&2; exit 2; }
done

is_deploy() { [[ "$deploy_keys" == *" $1 "* ]]; }
is_secret() { [[ "$secret_keys" == *" $1 "* ]]; }
secret_name() { echo "$service-$(echo "$1" | tr 'A-Z_' 'a-z-')"; }

# ---- the bridge's own checks ----------------------------------------------
if [ -n "${DFBRIDGE_BRIDGE:-}" ]; then
  bridge=("$DFBRIDGE_BRIDGE")
elif command -v go >/dev/null; then
  bridge=(go -C "$here/.." run ./cmd/bridge)
else
  echo "deploy.sh: set DFBRIDGE_BRIDGE to a bridge binary, or install Go, so the settings can be checked" >&2
  exit 2
fi
bridge_keys=()
for k in "${order[@]}"; do is_deploy "$k" || bridge_keys+=("$k"); done
keys_csv=$(IFS=,; echo "${bridge_keys[*]}")
deploy_csv=$(echo $deploy_keys | tr ' ' ',')
if [ -n "$render" ]; then
  # Rendering needs no secret to be real, only every key to be known.
  "${bridge[@]}" check --keys-only --keys "$keys_csv" --also "$deploy_csv" >/dev/null || exit 2
else
  # The whole configuration as the service will read it on Cloud Run
  # (K_SERVICE set), in an environment of its own: the settings' bridge
  # variables with the defaults above, nothing of this shell's.
  check_env=(PATH="$PATH" HOME="${HOME:-/tmp}" K_SERVICE="$service")
  for v in GOCACHE GOPATH GOMODCACHE GOFLAGS GOPROXY; do
    if [ -n "${!v:-}" ]; then check_env+=("$v=${!v}"); fi
  done
  for k in "${bridge_keys[@]}"; do check_env+=("$k=${set[$k]}"); done
  if [ -n "${set[REDIS_CA_PEM]:-}" ]; then check_env+=(REDIS_CA_FILE="${set[REDIS_CA_PEM]}"); fi
  env -i "${check_env[@]}" "${bridge[@]}" check --keys "$keys_csv" --also "$deploy_csv" >/dev/null ||
    { echo "deploy.sh: $settings did not pass the bridge's configuration check (above); nothing was changed" >&2; exit 2; }
fi
if [ -n "${set[REDIS_CA_PEM]:-}" ]; then set[REDIS_CA_FILE]=/secrets/redis-ca/ca.pem; order+=(REDIS_CA_FILE); fi

lifecycle=false
for k in AUDIT_WEBHOOK_HMAC_SECRETS AUDIT_WEBHOOK_BEARER_SECRETS AUDIT_WEBHOOK_API_KEYS AUDIT_WEBHOOK_BASIC_AUTH; do
  [ -z "${set[$k]:-}" ] || lifecycle=true
done
[ -z "${set[DESCOPE_MANAGEMENT_KEY]:-}" ] || lifecycle=true # reconcile writes accounts

# ---- manifests ------------------------------------------------------------
# Secret versions are pinned: ver holds the version each secret's value is
# (deploy.sh moves it when the value changes); a rendering with no project
# to ask shows version 1.
declare -A ver=()
yq() { # a YAML double-quoted scalar
  local v=${1//\\/\\\\}; v=${v//\"/\\\"}; printf '"%s"' "$v"
}
env_block() { # the bridge's environment, at indent $1
  local pad=$1 k
  for k in "${order[@]}"; do
    is_deploy "$k" && continue
    [ -n "${set[$k]}" ] || continue
    if is_secret "$k"; then
      printf '%s- name: %s\n%s  valueFrom:\n%s    secretKeyRef: { name: %s, key: "%s" }\n' "$pad" "$k" "$pad" "$pad" "$(secret_name "$k")" "${ver[$k]:-1}"
    else
      printf '%s- name: %s\n%s  value: %s\n' "$pad" "$k" "$pad" "$(yq "${set[$k]}")"
    fi
  done
}
ca_mount() { # the Redis CA secret as a file, at indent $1 (container) / $2 (pod)
  [ -n "${set[REDIS_CA_PEM]:-}" ] || return 0
  printf '%svolumeMounts:\n%s  - { name: redis-ca, mountPath: /secrets/redis-ca, readOnly: true }\n' "$1" "$1"
}
ca_volume() {
  [ -n "${set[REDIS_CA_PEM]:-}" ] || return 0
  printf '%svolumes:\n%s  - name: redis-ca\n%s    secret: { secretName: %s, items: [{ key: "%s", path: ca.pem }] }\n' "$1" "$1" "$1" "$service-redis-ca" "${ver[REDIS_CA_PEM_DATA]:-1}"
}
vpc_annotations() {
  [ -n "${set[VPC_NETWORK]:-}" ] || return 0
  printf '%srun.googleapis.com/network-interfaces: %s\n%srun.googleapis.com/vpc-access-egress: private-ranges-only\n' \
    "$1" "'[{\"network\":\"${set[VPC_NETWORK]}\",\"subnetwork\":\"${set[VPC_SUBNET]:-${set[VPC_NETWORK]}}\"}]'" "$1"
}

render_service() {
  cat <<YAML
# Rendered by deploy/deploy.sh from $(basename "$settings"); edit the settings, not this file.
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: $service
  labels:
    cloud.googleapis.com/location: $region
  annotations:
    # Apps call /exchange from browsers and devices; every request is
    # authenticated by its Descope session.
    run.googleapis.com/ingress: all
spec:
  template:
    metadata:
      annotations:
        # One warm instance: a cold start loads Descope's keys and proves the
        # signer before it is ready.
        autoscaling.knative.dev/minScale: "${set[MIN_INSTANCES]}"
        autoscaling.knative.dev/maxScale: "${set[MAX_INSTANCES]}"
        run.googleapis.com/startup-cpu-boost: "true"
        # Instance-based billing: lifecycle jobs run after the audit webhook
        # has answered, which needs CPU between requests.
        run.googleapis.com/cpu-throttling: "false"
$(vpc_annotations "        ")
    spec:
      # Signs as itself: roles/iam.serviceAccountTokenCreator on itself.
      serviceAccountName: $sa
      containerConcurrency: 80
      timeoutSeconds: 10
      containers:
        - name: bridge
          image: ${set[IMAGE]}
          ports:
            - name: http1
              containerPort: 8080
          env:
$(env_block "            ")
          resources:
            limits:
              cpu: "1"
              memory: 256Mi
$(ca_mount "          ")
          startupProbe:
            httpGet:
              path: /readyz
              port: 8080
            periodSeconds: 1
            timeoutSeconds: 1
            failureThreshold: 30
          livenessProbe:
            httpGet:
              path: /healthz
              port: 8080
            periodSeconds: 15
            timeoutSeconds: 1
            failureThreshold: 3
$(ca_volume "      ")
YAML
}

doctor_env() { # doctor judges the service's own setting, as Cloud Run runs it
  [ "$1" = doctor ] || return 0
  printf '                - name: K_SERVICE\n                  value: %s\n' "$(yq "$service")"
}

job_vpc() { # a job's Direct VPC egress, on its execution template
  [ -n "${set[VPC_NETWORK]:-}" ] || return 0
  printf '    metadata:\n      annotations:\n'
  vpc_annotations "        "
}

render_job() { # $1 job name, $2 the bridge subcommand
  cat <<YAML
# Rendered by deploy/deploy.sh from $(basename "$settings"); edit the settings, not this file.
# \`bridge $2\` from the service's image, with the service's environment.
apiVersion: run.googleapis.com/v1
kind: Job
metadata:
  name: $1
spec:
  template:
$(job_vpc)
    spec:
      taskCount: 1
      template:
        spec:
          maxRetries: 1
          timeoutSeconds: 3600
          serviceAccountName: $sa
          containers:
            - image: ${set[IMAGE]}
              args: ["$2"]
              resources:
                limits: { cpu: "1", memory: 512Mi }
              env:
$(env_block "                ")
$(doctor_env "$2")
$(ca_mount "              ")
$(ca_volume "          ")
YAML
}

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
render_all() {
  render_service | sed '/^$/d' > "$out/service.yaml"
  render_job "$service-reconcile" reconcile | sed '/^$/d' > "$out/reconcile-job.yaml"
  render_job "$service-doctor" doctor | sed '/^$/d' > "$out/doctor-job.yaml"
}
if [ -n "$render" ]; then
  render_all
  mkdir -p "$render"
  cp "$out"/*.yaml "$render"/
  echo "rendered $render/service.yaml, reconcile-job.yaml, doctor-job.yaml" >&2
  exit 0
fi

# ---- commands -------------------------------------------------------------
run() { # print a command (shell-quoted, as it runs), and run it unless --dry-run
  printf '+'; printf ' %q' "$@"; printf '\n'
  $dry || "$@"
}
exists() { # true if the describe command succeeds (a dry run assumes not)
  $dry && return 1
  "$@" >/dev/null 2>&1
}
if ! $dry; then
  command -v gcloud >/dev/null || { echo "deploy.sh: gcloud is not installed (use --dry-run to see the commands)" >&2; exit 2; }
fi
g=(gcloud --project "$project" --quiet)

apis=(run.googleapis.com iamcredentials.googleapis.com identitytoolkit.googleapis.com secretmanager.googleapis.com
  cloudscheduler.googleapis.com iam.googleapis.com)
if [ -n "${set[REDIS_URL]:-}" ]; then apis+=(redis.googleapis.com compute.googleapis.com); fi
# IMAGE in Artifact Registry (LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/NAME:TAG)
# is built here when it is not there yet; any other registry is yours to fill.
ar_image='^([a-z0-9-]+)-docker\.pkg\.dev/([^/]+)/([^/]+)/.+$'
if [[ "${set[IMAGE]}" =~ $ar_image ]]; then
  ar_location=${BASH_REMATCH[1]} ar_project=${BASH_REMATCH[2]} ar_repo=${BASH_REMATCH[3]}
  apis+=(artifactregistry.googleapis.com cloudbuild.googleapis.com)
fi
run "${g[@]}" services enable "${apis[@]}"

# ---- the image ----------------------------------------------------------------
if [ -n "${ar_repo:-}" ]; then
  exists gcloud --project "$ar_project" --quiet artifacts repositories describe "$ar_repo" --location "$ar_location" ||
    run gcloud --project "$ar_project" --quiet artifacts repositories create "$ar_repo" --repository-format=docker \
      --location "$ar_location" --description="dfbridge images"
  exists gcloud --project "$ar_project" --quiet artifacts docker images describe "${set[IMAGE]}" ||
    run gcloud --project "$ar_project" --quiet builds submit --tag "${set[IMAGE]}" "$(realpath --relative-to=. "$here/..")"
fi

# ---- the account and what it may do -----------------------------------------
exists "${g[@]}" iam service-accounts describe "$sa" ||
  run "${g[@]}" iam service-accounts create "$service" --display-name="dfbridge: signs Firebase custom tokens"
# Token Creator on itself only: it can sign as this account and no other.
run "${g[@]}" iam service-accounts add-iam-policy-binding "$sa" --member="serviceAccount:$sa" \
  --role=roles/iam.serviceAccountTokenCreator
# Firebase Auth: a custom role with exactly the user permissions the
# bridge's Admin SDK calls need (deploy/README.md lists each beside its
# call; cmd/bridge/deploy_role_test.go checks every call is covered).
role_id=${service//-/_}_accounts
role_permissions=firebaseauth.users.get,firebaseauth.users.update,firebaseauth.users.create,firebaseauth.users.delete
if [[ "${set[IDENTITY_MAPPING]:-}" == *tenants* ]]; then role_permissions+=,identitytoolkit.tenants.list; fi
needs_accounts=$lifecycle
[[ "${set[IDENTITY_MAPPING]:-}" =~ (migration|tenants) ]] && needs_accounts=true
if $needs_accounts; then
  role_verb=create
  exists "${g[@]}" iam roles describe "$role_id" && role_verb=update
  run "${g[@]}" iam roles "$role_verb" "$role_id" --title="dfbridge: Firebase Auth users" \
    --description="What dfbridge's lifecycle sync, migration, reconcile and doctor call" \
    --permissions="$role_permissions" --stage=GA
  run "${g[@]}" projects add-iam-policy-binding "$project" --member="serviceAccount:$sa" \
    --role="projects/$project/roles/$role_id" --condition=None
fi

# ---- secrets, pinned ----------------------------------------------------------
# A value's digest (SHA-256 of the secret's name and value, in a label)
# says whether it changed, so this needs no read access to any secret;
# the values are refused below 64 bits of entropy (bridge check), so the
# digest does not reveal them. Replicas stay in the region.
put_secret() { # $1 secret name, $2 the setting holding the value (never printed); sets ver[$2]
  local name=$1 from=$2 digest have=""
  digest=$(printf '%s\n%s' "$name" "${set[$from]}" | sha256sum | cut -c1-32)
  if exists "${g[@]}" secrets describe "$name"; then
    have=$("${g[@]}" secrets describe "$name" --format='value(labels.dfbridge-digest)')
    ver[$from]=$("${g[@]}" secrets describe "$name" --format='value(labels.dfbridge-version)')
  else
    run "${g[@]}" secrets create "$name" --replication-policy=user-managed --locations="$region"
  fi
  if [ "$have" != "$digest" ] || [ -z "${ver[$from]:-}" ]; then
    printf '+'; printf ' %q' "${g[@]}" secrets versions add "$name" --data-file=- --format='value(name)'
    printf ' <<< "(the value of %s)"\n' "$from"
    if $dry; then
      ver[$from]=1
    else
      local added
      added=$(printf '%s' "${set[$from]}" | "${g[@]}" secrets versions add "$name" --data-file=- --format='value(name)')
      ver[$from]=${added##*/}
    fi
    run "${g[@]}" secrets update "$name" --update-labels="dfbridge-digest=$digest,dfbridge-version=${ver[$from]}"
  fi
  run "${g[@]}" secrets add-iam-policy-binding "$name" --member="serviceAccount:$sa" --role=roles/secretmanager.secretAccessor
}
for k in "${order[@]}"; do
  if is_secret "$k" && [ -n "${set[$k]}" ]; then put_secret "$(secret_name "$k")" "$k"; fi
done
if [ -n "${set[REDIS_CA_PEM]:-}" ]; then
  set[REDIS_CA_PEM_DATA]=$(cat "${set[REDIS_CA_PEM]}")
  put_secret "$service-redis-ca" REDIS_CA_PEM_DATA
fi

# ---- the service and its jobs -------------------------------------------------
render_all
run "${g[@]}" run services replace "$out/service.yaml" --region "$region"
if [ "${set[PUBLIC]}" = true ]; then
  # An organisation policy (iam.allowedPolicyMemberDomains) may forbid
  # allUsers; then set PUBLIC=false and front the service (deploy/README.md).
  run "${g[@]}" run services add-iam-policy-binding "$service" --region "$region" \
    --member=allUsers --role=roles/run.invoker
fi
run "${g[@]}" run jobs replace "$out/reconcile-job.yaml" --region "$region"
run "${g[@]}" run jobs replace "$out/doctor-job.yaml" --region "$region"

exists "${g[@]}" iam service-accounts describe "$scheduler_sa" ||
  run "${g[@]}" iam service-accounts create "$service-scheduler" --display-name="dfbridge: runs reconcile"
run "${g[@]}" run jobs add-iam-policy-binding "$service-reconcile" --region "$region" \
  --member="serviceAccount:$scheduler_sa" --role=roles/run.invoker
verb=create
exists "${g[@]}" scheduler jobs describe "$service-reconcile-hourly" --location "$region" && verb=update
run "${g[@]}" scheduler jobs "$verb" http "$service-reconcile-hourly" --location "$region" \
  --schedule="${set[SCHEDULE]}" \
  --uri="https://run.googleapis.com/v2/projects/$project/locations/$region/jobs/$service-reconcile:run" \
  --http-method=POST --oauth-service-account-email="$scheduler_sa"

# Prove the deployment: doctor runs with the service's environment and
# exits non-zero (failing this script) if any dependency is wrong.
run "${g[@]}" run jobs execute "$service-doctor" --region "$region" --wait
if $dry; then
  echo "dry run: nothing was changed" >&2
else
  echo "deployed $service in $region; bridge doctor passed" >&2
fi
