// The Node peer of the load benchmark (bench/cmd/load): the exchange as a
// team would write it on Descope's and Firebase's own Node SDKs, run the
// way they would run it on a multi-core machine, one node:cluster worker
// per core. POST /exchange with "Authorization: Bearer <session JWT>":
// validateSession (@descope/node-sdk: RS256 with Descope's key set, issuer),
// the bridge's default mapping (uid = the Descope user ID; roles,
// permissions, tenants and dct as claims) and createCustomToken
// (firebase-admin, signed with the service-account key file). It logs
// nothing per request, which favours it over the bridge.
//
// Environment: PORT, DESCOPE_PROJECT_ID, DESCOPE_BASE_URL,
// GOOGLE_APPLICATION_CREDENTIALS, PEER_WORKERS (default: one per core).
import cluster from 'node:cluster';
import http from 'node:http';
import os from 'node:os';
import { readFileSync } from 'node:fs';

const workers = Number(process.env.PEER_WORKERS || os.availableParallelism());

if (cluster.isPrimary) {
  let ready = 0;
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on('message', (_w, msg) => {
    if (msg === 'ready' && ++ready === workers) console.log(`peer ready: ${workers} workers`);
  });
  cluster.on('exit', (w, code, signal) => {
    if (signal !== 'SIGTERM') {
      console.error(`peer worker ${w.process.pid} exited: ${code ?? signal}`);
      process.exit(1);
    }
  });
  for (const sig of ['SIGTERM', 'SIGINT']) {
    process.on(sig, () => {
      for (const w of Object.values(cluster.workers)) w.kill('SIGTERM');
      process.exit(0);
    });
  }
} else {
  const { default: DescopeClient } = await import('@descope/node-sdk');
  const { initializeApp, cert } = await import('firebase-admin/app');
  const { getAuth } = await import('firebase-admin/auth');

  delete process.env.FIREBASE_AUTH_EMULATOR_HOST; // sign for real
  const descope = DescopeClient({ projectId: process.env.DESCOPE_PROJECT_ID, baseUrl: process.env.DESCOPE_BASE_URL });
  const sa = JSON.parse(readFileSync(process.env.GOOGLE_APPLICATION_CREDENTIALS, 'utf8'));
  const auth = getAuth(initializeApp({ credential: cert(sa), projectId: sa.project_id }));

  const send = (res, status, body) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  };
  const refuse = (res, status, code) => send(res, status, { error: { code } });

  const exchange = async (req, res) => {
    const header = req.headers.authorization ?? '';
    if (!header.startsWith('Bearer ')) return refuse(res, 401, 'missing_token');
    let token;
    try {
      ({ token } = await descope.validateSession(header.slice(7)));
    } catch {
      return refuse(res, 401, 'unauthorized');
    }
    if (token.drn !== 'DS' || typeof token.sub !== 'string') return refuse(res, 401, 'wrong_token_kind');
    const claims = {};
    for (const k of ['roles', 'permissions', 'tenants', 'dct']) if (token[k] !== undefined) claims[k] = token[k];
    try {
      const customToken = await auth.createCustomToken(token.sub, claims);
      send(res, 200, { externalToken: customToken, uid: token.sub, expiresAt: Math.floor(Date.now() / 1000) + 3600 });
    } catch {
      refuse(res, 502, 'signing_failed');
    }
  };

  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/exchange') return void exchange(req, res);
      if (req.url === '/readyz') return send(res, 200, { status: 'ok' });
      refuse(res, 404, 'not_found');
    });
  });
  server.keepAliveTimeout = 75_000;
  server.listen(Number(process.env.PORT), '127.0.0.1', () => process.send('ready'));
}
