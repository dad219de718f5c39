// An independent OpenID Connect provider for tests: the npm package `oidc-provider` (pinned in the
// root package.json, installed by `npm ci`), configured with one client, a few accounts carrying a
// `nip` claim, and a fresh RS256 signing key.
//
//   node infra/simulators/oidc-provider-npm/server.mjs CONFIG.json
//
// CONFIG: {"host": "127.0.0.1", "port": 0,
//          "client": {"client_id", "client_secret", "redirect_uris": [...]},
//          "users": [{"sub", "username", "name", "email", "nip"}],
//          "audience": "optional: access tokens become JWTs for this resource (scope 'api')"}
// Port 0 takes a free port. Once listening it prints one JSON line {"issuer": "..."} to stdout.
//
// Logging in without a person: the interaction page signs in the account named by the
// authorization request's `login_hint` (username, email or sub) at once and grants consent; without
// a hint it shows a form (POST /interaction/<uid>/login, field `username`). PKCE is required.
import { randomBytes, randomUUID, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const host = config.host ?? '127.0.0.1';
const users = config.users ?? [];
const audience = config.audience ?? null;

function findUser(hint) {
  if (!hint) return undefined;
  return users.find((u) => u.username === hint || u.email === hint || u.sub === hint);
}

function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), use: 'sig', alg: 'RS256' };
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 10_000) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

function makeProvider(issuer) {
  const features = {
    devInteractions: { enabled: false },
    rpInitiatedLogout: { enabled: true },
  };
  if (audience) {
    features.resourceIndicators = {
      enabled: true,
      defaultResource: async (_ctx, _client, oneOf) => oneOf ?? audience,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, resource) => {
        if (resource !== audience) throw new Provider.errors.InvalidTarget();
        return { scope: 'api', audience, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } };
      },
    };
  }
  return new Provider(issuer, {
    clients: [
      {
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
        ...config.client,
      },
    ],
    jwks: { keys: [signingKey()] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    pkce: { required: () => true },
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username', 'nip'],
      email: ['email', 'email_verified'],
    },
    // Profile claims in the ID token too (the platform reads `nip` from it).
    conformIdTokenClaims: false,
    features,
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(_ctx, sub) {
      const user = users.find((u) => u.sub === sub);
      if (!user) return undefined;
      return {
        accountId: user.sub,
        async claims() {
          const claims = {
            sub: user.sub,
            name: user.name,
            preferred_username: user.username,
            email: user.email,
            email_verified: true,
          };
          if (user.nip) claims.nip = user.nip;
          return claims;
        },
      };
    },
  });
}

async function finishLogin(provider, req, res, user) {
  await provider.interactionFinished(req, res, { login: { accountId: user.sub } }, { mergeWithLastSubmission: false });
}

async function consent(provider, req, res, details) {
  const { prompt, params, session } = details;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  const missing = prompt.details ?? {};
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

async function interaction(provider, req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new Error('interaction mismatch');
  if (details.prompt.name === 'consent') return consent(provider, req, res, details);
  if (action === 'login' && req.method === 'POST') {
    const user = findUser((await readForm(req)).get('username'));
    if (user) return finishLogin(provider, req, res, user);
  }
  const hinted = findUser(details.params.login_hint);
  if (hinted) return finishLogin(provider, req, res, hinted);
  const options = users
    .map((u) => `<option value="${escapeHtml(u.username)}">${escapeHtml(u.name)} (${escapeHtml(u.username)})</option>`)
    .join('');
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(
    `<!doctype html><title>Login</title><form method="post" action="/interaction/${escapeHtml(uid)}/login">` +
      `<select name="username">${options}</select><button>Sign in</button></form>`,
  );
}

const server = http.createServer();
server.listen(config.port ?? 0, host, () => {
  const { port } = server.address();
  const issuer = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const provider = makeProvider(issuer);
  const callback = provider.callback();
  server.on('request', (req, res) => {
    const match = /^\/interaction\/([^/?]+)(?:\/(login))?(?:\?.*)?$/.exec(req.url);
    if (!match) return callback(req, res);
    interaction(provider, req, res, match[1], match[2]).catch((err) => {
      if (!res.headersSent) res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`interaction failed: ${err.message}`);
    });
  });
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close();
    server.closeAllConnections?.();
    process.exit(0);
  });
}
