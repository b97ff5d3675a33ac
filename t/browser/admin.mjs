// Licensed under the Apache License, Version 2.0 (see LICENSE).
// The ota-status page as an administrator uses it, in headless Chromium
// driven by puppeteer-core (t/95-browser.t runs it from build/browser/):
// log in with Basic auth, cancel then confirm the dialogs of the buttons,
// approve a held request and watch the device get its certificate, revoke
// it, see that a user Apache lets look but not act gets nothing done, and
// that forms posted from another origin are refused. Each check is
// printed as "CHECK 1 name" or "CHECK 0 name: detail"; screenshots go to
// ARTIFACTS.
import http from 'node:http';
import puppeteer from 'puppeteer-core';

const env = (name) => {
    if (!process.env[name]) {
        throw new Error(`${name} is not set`);
    }
    return process.env[name];
};
const base = env('OTA_BASE');             // http://127.0.0.1:PORT
const udid = env('OTA_UDID');             // held, to approve, then revoke
const other = env('OTA_OTHER_TID');       // held, for the forged posts
const artifacts = env('ARTIFACTS');
const page_url = `${base}/ota/status`;

function check(pass, name, detail) {
    console.log(`CHECK ${pass ? 1 : 0} ${name}${pass || !detail ? '' : `: ${detail}`}`);
}

// A screenshot once the page has settled (a navigation may be ending).
async function shot(page, name) {
    for (let i = 0; i < 10; i++) {
        try {
            await page.waitForNetworkIdle({ idleTime: 200, timeout: 5000 }).catch(() => null);
            await page.screenshot({ path: `${artifacts}/browser-${name}.png`, fullPage: true });
            return;
        } catch (e) {
            await new Promise((done) => setTimeout(done, 300));
        }
    }
    check(false, `screenshot ${name}`);
}

// The text of each cell of the row of this table whose cell td.udid is id.
async function row_of(page, table, id) {
    return page.$$eval(`#${table} tbody tr`, (rows, id) => {
        const row = rows.find((r) => r.querySelector('td.udid')?.textContent === id);
        return row ? [...row.querySelectorAll('td')].map((td) => td.textContent) : null;
    }, id);
}

// Clicks a row's button; the dialog answered by answer (true: OK).
async function click(page, table, id, action, answer) {
    const asked = [];
    const on_dialog = async (dialog) => {
        asked.push(dialog.message());
        await (answer ? dialog.accept() : dialog.dismiss());
    };
    page.on('dialog', on_dialog);
    const button = await page.evaluateHandle((table, id, action) => {
        const row = [...document.querySelectorAll(`#${table} tbody tr`)]
            .find((r) => r.querySelector('td.udid')?.textContent === id);
        return row?.querySelector(`form[data-action="${action}"] button`) ?? null;
    }, table, id, action);
    let response = null;
    if (!button.asElement()) {
        page.off('dialog', on_dialog);
        return { asked, response, missing: true };
    }
    if (answer) {
        [response] = await Promise.all([page.waitForNavigation(), button.click()]);
    } else {
        await button.click();
        await new Promise((done) => setTimeout(done, 500));
    }
    page.off('dialog', on_dialog);
    return { asked, response };
}

async function approve_and_revoke(browser) {
    const page = await browser.newPage();
    await page.setViewport({ width: 1500, height: 1000 });
    await page.authenticate({ username: 'alice', password: 'secret' });
    const first = await page.goto(page_url);
    check(first.status() === 200, 'alice logs in with Basic auth and gets the page');
    const csp = first.headers()['content-security-policy'] || '';
    check(csp.includes("'unsafe-hashes'"), 'the page allows its one handler by hash', csp);
    const pending = await row_of(page, 'pending', udid);
    check(pending !== null, 'the held request is listed');
    await shot(page, '1-pending');

    let r = await click(page, 'pending', udid, 'reject', false);
    check(r.asked.length === 1 && r.asked[0].startsWith('Reject the certificate request'),
          'Reject asks for confirmation', JSON.stringify(r.asked));
    await page.reload();
    check((await row_of(page, 'pending', udid)) !== null, 'cancelled: still waiting');

    r = await click(page, 'pending', udid, 'approve', true);
    check(r.asked.length === 1 && r.asked[0].includes(udid), 'Approve asks, naming the device',
          JSON.stringify(r.asked));
    check(r.response && r.response.status() === 200 && r.response.url() === page_url,
          'confirmed: the form posts and the browser is sent back to the page (303)',
          r.response && `${r.response.status()} ${r.response.url()}`);
    check((await row_of(page, 'pending', udid)) === null, 'no longer waiting');
    const chain = r.response ? r.response.request().redirectChain() : [];
    check(chain.length === 1 && chain[0].response()?.status() === 303, 'after a 303 See Other',
          chain.map((q) => q.response()?.status()).join(','));

    let device = null;
    for (let i = 0; i < 60; i++) {
        device = await row_of(page, 'devices', udid);
        if (device && device[5].includes('enrolled')) {
            break;
        }
        await new Promise((done) => setTimeout(done, 500));
        await page.reload();
    }
    check(device && device[5] === '4 enrolled' && /^[0-9A-F]+$/.test(device[6]),
          'the device polls, gets its certificate and is enrolled', JSON.stringify(device));
    await shot(page, '2-issued');

    r = await click(page, 'devices', udid, 'revoke', true);
    check(r.asked.length === 1 && r.asked[0].startsWith(`Revoke certificate ${device?.[6]}`),
          'Revoke asks for confirmation', JSON.stringify(r.asked));
    device = await row_of(page, 'devices', udid);
    check(device && device[7].startsWith('revoked '), 'the certificate is shown revoked',
          JSON.stringify(device));
    const audit = await page.$$eval('#audit tbody tr', (rows) => rows.map(
        (row) => [...row.querySelectorAll('td')].map((td) => td.textContent)));
    check(audit.length >= 2 && audit[0][3] === 'revoke' && audit[0][1] === 'alice'
          && audit.some((a) => a[3] === 'approve'), 'the audit lists both actions by alice',
          JSON.stringify(audit.slice(0, 3)));
    await shot(page, '3-revoked');
    await page.close();
    return device?.[6];
}

// bob may look (GET) but not act (POST): Apache answers 401.
async function look_only(browser) {
    const context = await browser.createBrowserContext();
    const page = await context.newPage();
    await page.authenticate({ username: 'bob', password: 'secret' });
    const first = await page.goto(page_url);
    check(first.status() === 200, 'bob may look at the page');
    const button = await page.$('#pending form[data-action="approve"] button');
    check(button !== null, 'he sees the buttons');
    let status = null;
    if (button) {
        page.on('dialog', (dialog) => dialog.accept());
        const refused = page.waitForResponse((r) => r.url() === page_url
            && r.request().method() === 'POST');
        await button.click();
        status = (await refused).status();
    }
    check(status === 401, 'his click on Approve is refused by Apache (401)', String(status));
    await shot(page, '4-look-only');
    await context.close();
}

// Pages of another origin that post to the status page: a form without
// the token, and a text/plain form dressed as JSON.
function evil_server() {
    const forms = {
        '/form.html': `<form id="f" method="post" action="${page_url}">
<input name="action" value="approve"><input name="transaction" value="${other}"></form>`,
        '/plain.html': `<form id="f" method="post" enctype="text/plain" action="${page_url}">
<input name='{"action":"approve","transaction":"${other}","x":"' value='"}'></form>`,
    };
    const server = http.createServer((req, res) => {
        const form = forms[req.url];
        res.writeHead(form ? 200 : 404, { 'Content-Type': 'text/html' });
        res.end(form ? `<!DOCTYPE html><title>elsewhere</title>${form}`
                     + '<script>document.getElementById("f").submit()</script>' : '');
    });
    return new Promise((ready) => server.listen(0, '127.0.0.1', () => ready(server)));
}

async function cross_origin(browser) {
    const server = await evil_server();
    const elsewhere = `http://127.0.0.1:${server.address().port}`;
    const page = await browser.newPage();
    await page.authenticate({ username: 'alice', password: 'secret' });
    await page.goto(page_url);                 // alice is logged in
    for (const name of ['form', 'plain']) {
        const posted = page.waitForResponse((r) => r.url() === page_url
            && r.request().method() === 'POST' && r.status() !== 401,
            { timeout: 15000 }).catch(() => null);
        await page.goto(`${elsewhere}/${name}.html`).catch(() => null);
        const response = await posted;
        check(response && response.status() === 403
              && response.request().headers().origin === elsewhere,
              `a ${name === 'form' ? 'form' : 'text/plain form'} posted from another `
              + 'origin is refused (403)',
              response && `${response.status()} from ${response.request().headers().origin}`);
        await page.waitForNetworkIdle({ idleTime: 300 }).catch(() => null);
    }
    await shot(page, '5-cross-origin');
    await page.close();
    server.close();
}

const browser = await puppeteer.launch({
    executablePath: env('CHROMIUM'),
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-quic',
           '--disable-background-networking', '--disable-component-update',
           '--disable-sync', `--user-data-dir=${env('USER_DATA_DIR')}`],
});
try {
    const serial = await approve_and_revoke(browser);
    console.log(`SERIAL ${serial ?? ''}`);
    await look_only(browser);
    await cross_origin(browser);
} finally {
    await browser.close();
}
