/**
 * The installation screen of an app shared by link (seed 000: "an installation screen appears …
 * It displays information about your app, including the permissions your app is requesting.
 * From here, your user can choose a site and an Atlassian app to install your app onto"), as
 * server-side HTML: no script, every interpolated value escaped (`esc`). Three steps on one URL:
 * the app and its permissions with a sign-in form (the installer's token); the sites the
 * installer administers that run every product of the link, with an install button; the result,
 * with the installation's shared secret shown once. A refused link is a page that says why.
 */
import type { LinkPreview } from '../app/distribution/install.js';
import type { InstallResult } from '../app/distribution/install.js';
import type { SiteRecord } from '../store/site-store.js';

/** HTML-escapes `s` for text and double-quoted attribute values. */
export function esc(s: unknown): string {
  return String(s)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const STYLE = `body{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;color:#172b4d}
h1{font-size:1.5rem}h2{font-size:1.1rem;margin-top:1.5rem}code{background:#f4f5f7;padding:0 .2rem}
.refused{border-left:4px solid #de350b;padding:.5rem 1rem;background:#ffebe6}
.ok{border-left:4px solid #00875a;padding:.5rem 1rem;background:#e3fcef}
label{display:block;margin:.75rem 0 .25rem}button{margin-top:1rem;padding:.4rem 1rem}`;

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>${esc(title)}</title><style>${STYLE}</style></head>
<body>
${body}
</body></html>
`;
}

function header(p: LinkPreview): string {
  const scopes = p.permissions.scopes.length
    ? `<ul id="scopes">${p.permissions.scopes.map((s) => `<li>${esc(s.words)} <code>${esc(s.name)}</code></li>`).join('')}</ul>`
    : '<p id="scopes">No scopes.</p>';
  const egress = p.permissions.egress.length
    ? `<ul id="egress">${p.permissions.egress.map((e) => `<li>${esc(e.words)}</li>`).join('')}</ul>`
    : '<p id="egress">It reaches no outside address.</p>';
  return `<h1>Install <span id="app-name">${esc(p.name)}</span></h1>
<p>Version <strong id="app-version">${esc(p.version)}</strong> of <code>${esc(p.appId)}</code>, into
<strong id="products">${esc(p.products.join(' and '))}</strong>${p.products.length > 1 ? ' (the site must run all of them)' : ''}.</p>
<h2>This app requests these permissions</h2>
<h3>Scopes</h3>${scopes}
<h3>External addresses</h3>${egress}`;
}

/** Step 1: the app, its permissions, and the sign-in form (POST to the same link). */
export function renderLinkPage(p: LinkPreview, action: string, problem?: string): string {
  return page(
    `Install ${p.name}`,
    `${header(p)}
<h2>Sign in as a site admin</h2>
${problem ? `<p class="refused" id="problem">${esc(problem)}</p>` : ''}
<form method="post" action="${esc(action)}">
<label for="token">Your API token (its name must be an admin of ${esc(p.products.join(' or '))} on the site)</label>
<input id="token" name="token" type="password" autocomplete="off" required>
<button id="continue" type="submit">Continue</button>
</form>`,
  );
}

/** Step 2: the sites `installer` may install on, and the install button. */
export function renderPickerPage(
  p: LinkPreview,
  action: string,
  installer: string,
  token: string,
  sites: readonly SiteRecord[],
): string {
  const form = sites.length
    ? `<form method="post" action="${esc(action)}">
<input type="hidden" name="token" value="${esc(token)}">
<label for="site">Site</label>
<select id="site" name="site">${sites.map((s) => `<option value="${esc(s.site)}">${esc(s.site)}</option>`).join('')}</select>
<label for="adminOf">You administer</label>
<select id="adminOf" name="adminOf">${p.products.map((x) => `<option value="${esc(x)}">${esc(x)}</option>`).join('')}</select>
<button id="install" type="submit">Install</button>
</form>`
    : `<p class="refused" id="problem">${esc(installer)} is not an admin of ${esc(p.products.join(' or '))} on any site that runs ${esc(p.products.join(' and '))}.</p>`;
  return page(`Install ${p.name}`, `${header(p)}\n<h2>Choose a site, ${esc(installer)}</h2>\n${form}`);
}

/** Step 3: what the install did; the shared secret when this install created it. */
export function renderInstalledPage(r: InstallResult): string {
  const secret =
    r.sharedSecret !== undefined
      ? `<p>Shared secret (shown once; keep it, it signs the calls made as this installation):</p>
<p><code id="shared-secret">${esc(r.sharedSecret)}</code></p>`
      : '';
  return page(
    'Installed',
    `<h1>${r.created ? 'Installed' : 'Already installed'}</h1>
<p class="ok" id="result">${esc(r.message)}</p>
<p>Installation <code id="installation-id">${esc(r.id)}</code>: <code>${esc(r.installation.appId)}</code> version
${esc(r.installation.version)} on ${esc(r.installation.site)}.</p>
${secret}`,
  );
}

/** A refusal: the link is stale, stopped or forged, or the install was refused. */
export function renderRefusedPage(title: string, message: string): string {
  return page(title, `<h1>${esc(title)}</h1>\n<p class="refused" id="problem">${esc(message)}</p>`);
}
