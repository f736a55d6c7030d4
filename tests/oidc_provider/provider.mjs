// A real OpenID Connect provider for the tests (tests/oidc.py starts it): oidc-provider with its
// development login and consent pages, which take any password for any login name. One client,
// the registry under test; people's groups come from OIDC_GROUPS ({"login": ["group", ...]}).
import http from 'node:http';
import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_PORT);
// A provider whose clock is ahead of (or behind) the registry's, for the clock-skew tests.
const clockOffset = Number(process.env.OIDC_CLOCK_OFFSET_SECONDS || 0) * 1000;
if (clockOffset) {
  const realNow = Date.now;
  Date.now = () => realNow() + clockOffset;
}
const groups = JSON.parse(process.env.OIDC_GROUPS || '{}');
// preferred_username is the login unless OIDC_USERNAMES ({"login": "name"}) says otherwise.
const usernames = JSON.parse(process.env.OIDC_USERNAMES || '{}');
const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: process.env.OIDC_CLIENT_ID,
    client_secret: process.env.OIDC_CLIENT_SECRET,
    redirect_uris: [process.env.OIDC_REDIRECT_URI],
    // Where the registry's logout asks the provider to send the person after ending their session.
    post_logout_redirect_uris: [process.env.OIDC_POST_LOGOUT_REDIRECT_URI],
    // mozilla-django-oidc sends the secret in the form body.
    token_endpoint_auth_method: 'client_secret_post',
  }],
  scopes: ['openid', 'profile', 'email', 'groups'],
  claims: { openid: ['sub'], profile: ['preferred_username', 'name'], email: ['email'], groups: ['groups'] },
  findAccount: async (ctx, id) => ({
    accountId: id,
    claims: async () => ({
      sub: id, preferred_username: usernames[id] ?? id, name: id, email: `${id}@example.lan`, groups: groups[id] ?? [],
    }),
  }),
  // The registry must prove it started the flow (RFC 7636) even though it has a secret; a test
  // turns this off (OIDC_PKCE_REQUIRED=false) to get a code any client could redeem.
  pkce: { required: () => process.env.OIDC_PKCE_REQUIRED !== 'false' },
  cookies: { keys: ['a test provider only'] },
  ttl: { IdToken: Number(process.env.OIDC_ID_TOKEN_TTL_SECONDS || 3600) },
});
http.createServer(provider.callback()).listen(port, '127.0.0.1', () => console.log(`listening on ${port}`));
