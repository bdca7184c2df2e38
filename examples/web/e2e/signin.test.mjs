// End-to-end: a real browser signs in to the Firebase Auth emulator through
// the real bridge, with a session from the Descope stand-in. The stack must be
// up already (scripts/test-browser.sh says how); if any part of it cannot be
// reached the test fails, because a skipped browser test proves nothing.
//
// Env: BRIDGE_URL (http://127.0.0.1:8080), DESCOPE_STUB_URL
// (http://127.0.0.1:8090), FIREBASE_AUTH_EMULATOR_HOST (127.0.0.1:9099),
// FIREBASE_PROJECT_ID (demo-dfbridge), CHROMIUM_PATH (/usr/bin/chromium).
// The page is served from http://127.0.0.1:5173 (WEB_PAGE_PORT), which the bridge's
// CORS_ALLOWED_ORIGINS and the stand-in's STUB_DEV_ORIGINS must allow.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { build, preview } from "vite";
import { chromium } from "playwright-core";

const root = fileURLToPath(new URL("..", import.meta.url));
const artifacts = join(root, "e2e", "artifacts");

const bridgeUrl = (process.env.BRIDGE_URL || "http://127.0.0.1:8080").replace(/\/+$/, "");
const stubUrl = (process.env.DESCOPE_STUB_URL || "http://127.0.0.1:8090").replace(/\/+$/, "");
const emulatorHost = process.env.FIREBASE_AUTH_EMULATOR_HOST || "127.0.0.1:9099";
const emulatorUrl = `http://${emulatorHost}`;
const projectId = process.env.FIREBASE_PROJECT_ID || "demo-dfbridge";
const chromiumPath = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const pageHost = "127.0.0.1";
const pagePort = Number(process.env.WEB_PAGE_PORT || 5173);
const pageOrigin = `http://${pageHost}:${pagePort}`;

/** Fails with a message that names the part of the stack that is down. */
async function requireReachable(name, url, envVar) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    await res.arrayBuffer();
    return res.status;
  } catch (err) {
    assert.fail(`${name} is not reachable at ${url} (${err.cause?.code ?? err.message}); start the stack or set ${envVar}`);
  }
}

describe("web example against the local stack", () => {
  let outDir;
  let userDataDir;
  let server;
  let context;
  let page;
  const pageProblems = [];
  // Node 20 reports tests whose before hook threw as cancelled, not failed,
  // so setup keeps its error and each test fails on it.
  let setupError;

  before(async () => {
    try {
      await setUp();
    } catch (err) {
      setupError = err;
    }
  });

  async function setUp() {
    await requireReachable("the bridge", `${bridgeUrl}/healthz`, "BRIDGE_URL");
    await requireReachable("the Descope stand-in", `${stubUrl}/`, "DESCOPE_STUB_URL");
    const emu = await requireReachable(
      "the Firebase Auth emulator",
      `${emulatorUrl}/emulator/v1/projects/${projectId}/config`,
      "FIREBASE_AUTH_EMULATOR_HOST",
    );
    assert.equal(emu, 200, `the Auth emulator answered ${emu} for project ${projectId}`);

    // Build the page in dev mode into a temp folder so dist/ stays a
    // production build.
    outDir = await mkdtemp(join(tmpdir(), "dfbridge-web-"));
    const env = {
      VITE_BRIDGE_URL: bridgeUrl,
      VITE_DEV_SESSION_URL: `${stubUrl}/dev/session`,
      VITE_DEV_REFRESH_MS: "1000",
      VITE_AUTH_EMULATOR_URL: emulatorUrl,
      VITE_FIREBASE_PROJECT_ID: projectId,
    };
    Object.assign(process.env, env);
    await build({ root, logLevel: "warn", build: { outDir, emptyOutDir: true } });
    server = await preview({
      root,
      logLevel: "warn",
      build: { outDir },
      preview: { host: pageHost, port: pagePort, strictPort: true, open: false },
    });

    userDataDir = await mkdtemp(join(tmpdir(), "dfbridge-chromium-"));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: chromiumPath,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
      ],
    });
    page = context.pages()[0] ?? (await context.newPage());
    // Kept for failure messages. The page never logs tokens.
    page.on("pageerror", (err) => pageProblems.push(`pageerror: ${err.message}`));
    page.on("console", (msg) => {
      if (msg.type() === "error") pageProblems.push(`console: ${msg.text()}`);
    });
    await mkdir(artifacts, { recursive: true });
  }

  after(async () => {
    await context?.close();
    await new Promise((resolve) => (server ? server.httpServer.close(resolve) : resolve()));
    if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  /** Types userId into the dev form, clicks sign-in, and waits for uid or error. */
  async function signInAs(userId, { shot } = {}) {
    if (setupError) throw setupError;
    await page.goto(pageOrigin, { waitUntil: "load" });
    await page.getByTestId("signin-screen").waitFor({ timeout: 30_000 });
    if (shot) await page.screenshot({ path: join(artifacts, shot), fullPage: true });
    await page.getByTestId("dev-user-id").fill(userId);
    await page.getByRole("button", { name: "Sign in (dev)" }).click();
    const outcome = page.getByTestId("uid").or(page.getByTestId("error"));
    try {
      await outcome.first().waitFor({ timeout: 30_000 });
    } catch (err) {
      assert.fail(`no uid or error shown after 30s; page problems: ${pageProblems.join(" | ") || "none"}`);
    }
  }

  /** The role pills shown, one text each. */
  const shownRoles = async () => (await page.getByTestId("role").allTextContents()).map((r) => r.trim());

  test("a dev session signs in as the Descope user, with roles as a claim", async () => {
    const userId = `e2e-${randomBytes(6).toString("hex")}`;
    await signInAs(userId, { shot: "signed-out.png" });
    await page.screenshot({ path: join(artifacts, "signed-in.png"), fullPage: true });

    const error = page.getByTestId("error");
    if (await error.count()) {
      assert.fail(`page shows an error: ${await error.textContent()}; page problems: ${pageProblems.join(" | ") || "none"}`);
    }
    assert.equal(await page.getByTestId("uid").textContent(), userId);
    assert.deepEqual(await shownRoles(), ["admin"], "one pill per role, no separators");
    assert.equal(await page.getByTestId("signin-screen").count(), 0, "the sign-in screen is gone once signed in");
    assert.equal(await page.getByRole("button", { name: "Sign in (dev)" }).count(), 0);
    assert.equal(await page.getByTestId("admin-panel").count(), 1, "the admin role opens the admin panel");
    assert.ok(await page.getByTestId("new-document").isEnabled(), "an admin may write");
    const claims = JSON.parse(await page.getByTestId("claims").textContent());
    assert.deepEqual(claims.roles, ["admin"]);
    assert.ok(!("dfb" in claims) && !("dfbo" in claims), "the bridge's bookkeeping is folded away from the claims view");

    // The emulator, asked directly, knows the user the page signed in.
    const res = await fetch(`${emulatorUrl}/identitytoolkit.googleapis.com/v1/projects/${projectId}/accounts:lookup`, {
      method: "POST",
      headers: { Authorization: "Bearer owner", "Content-Type": "application/json" },
      body: JSON.stringify({ localId: [userId] }),
    });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.users?.[0]?.localId, userId, "the emulator has no such user");
  });

  test("a role change at Descope reaches the page without a reload, and a plain refresh makes no exchange", async () => {
    const userId = `e2e-${randomBytes(6).toString("hex")}`;
    let exchanges = 0;
    let loads = 0;
    const onRequest = (req) => {
      if (req.method() === "POST" && req.url() === `${bridgeUrl}/exchange`) exchanges++;
    };
    const onLoad = () => loads++;
    page.on("request", onRequest);
    try {
      await signInAs(userId);
      page.on("load", onLoad);
      const roles = shownRoles;
      assert.deepEqual(await roles(), ["admin"]);
      assert.equal(exchanges, 1);

      // The page refreshes its session every second: same access, no exchange.
      await page.waitForTimeout(2500);
      assert.equal(exchanges, 1, "refreshed sessions with the same claims were exchanged");

      // An admin changes the user's roles at Descope; the next refresh
      // carries them, and the page shows what Firebase's ID token now says.
      const res = await fetch(`${stubUrl}/dev/user`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ userId, roles: ["editor"] }),
      });
      assert.equal(res.status, 204);
      await page.getByTestId("roles").filter({ hasText: "editor" }).waitFor({ timeout: 20_000 });
      assert.deepEqual(await roles(), ["editor"]);
      assert.equal(exchanges, 2, "one exchange for the change");
      assert.equal(loads, 0, "no page reload");
      await page.getByTestId("admin-locked").waitFor({ timeout: 5_000 });
      assert.equal(await page.getByTestId("admin-panel").count(), 0, "the admin panel closes with the role");
      assert.ok(await page.getByTestId("new-document").isEnabled(), "an editor may still write");
      assert.deepEqual(JSON.parse(await page.getByTestId("claims").textContent()).roles, ["editor"],
        "the claims view follows the change");
      await page.screenshot({ path: join(artifacts, "role-change.png"), fullPage: true });

      // Sign-out is in the header, and brings the sign-in screen back.
      await page.getByRole("button", { name: "Sign out" }).click();
      await page.getByTestId("signin-screen").waitFor({ timeout: 10_000 });
      assert.equal(await page.getByTestId("uid").count(), 0);
      await page.screenshot({ path: join(artifacts, "signed-out-again.png"), fullPage: true });
    } finally {
      page.off("request", onRequest);
      page.off("load", onLoad);
    }
  });

  test("a refusal from the bridge is shown with its code", async () => {
    // Longer than Firebase's 128-byte uid limit, so the bridge refuses it.
    const userId = `e2e-${"x".repeat(130)}`;
    await signInAs(userId);
    await page.screenshot({ path: join(artifacts, "refusal.png"), fullPage: true });

    assert.equal(await page.getByTestId("uid").count(), 0, "a uid was shown for a refused session");
    const text = await page.getByTestId("error").textContent();
    assert.match(text, /^uid_too_long: /, `error shown: ${text}`);
  });
});
