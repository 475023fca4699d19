// Drives the page of `melody_rnn serve_web` in headless Chromium (Debian's, through
// playwright-core: no browser download) the way a person would, for tests/test_magenta_js.py.
//
//   node check_web_page.js URL PLAN.json RESULT.json
//
// PLAN.json: {executablePath, keys: [pitch, ...], steps, temperature, screenshot (optional, a
// PNG path)}. The script waits for the model to load, clicks the keys, a rest, sets the steps
// and temperature, clicks Continue and writes what the page then shows (its result, status,
// keys and piano roll) to RESULT.json.
'use strict';

const fs = require('fs');
const {chromium} = require('playwright-core');

const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--no-first-run',
];

async function main() {
  const [url, planPath, resultPath] = process.argv.slice(2);
  const plan = JSON.parse(fs.readFileSync(planPath, 'utf8'));
  const browser = await chromium.launch(
      {executablePath: plan.executablePath, headless: true, args: FLAGS});
  const messages = [];
  const requests = [];
  try {
    const page = await browser.newPage();
    page.on('console', (message) => messages.push(`${message.type()}: ${message.text()}`));
    page.on('pageerror', (error) => messages.push(`pageerror: ${error}`));
    page.on('request', (request) => requests.push(request.url()));
    await page.goto(url);
    await page.waitForSelector('#model-info[data-ready="true"]', {timeout: 60000});
    for (const pitch of plan.keys) {
      await page.click(`#keyboard [data-pitch="${pitch}"]`);
    }
    await page.click('#rest');
    await page.fill('#steps', String(plan.steps));
    await page.fill('#temperature', String(plan.temperature));
    await page.click('#continue');
    await page.waitForFunction(
        () => document.getElementById('result').dataset.totalSteps ||
            document.getElementById('status').classList.contains('error'),
        null, {timeout: 60000});
    const shown = await page.evaluate(() => ({
      result: {...document.getElementById('result').dataset},
      info: {...document.getElementById('model-info').dataset},
      infoText: document.getElementById('model-info').textContent,
      status: document.getElementById('status').textContent,
      statusIsError: document.getElementById('status').classList.contains('error'),
      source: document.getElementById('source').textContent,
      keys: Array.from(
          document.querySelectorAll('#keyboard .key'), (key) => Number(key.dataset.pitch)),
      primerRects: document.querySelectorAll('#roll rect.note.primer').length,
      continuationRects: document.querySelectorAll('#roll rect.note.continuation').length,
    }));
    if (plan.screenshot) {
      await page.setViewportSize({width: 1000, height: 800});
      await page.screenshot({path: plan.screenshot, fullPage: true});
    }
    fs.writeFileSync(resultPath, JSON.stringify({...shown, messages, requests}));
  } finally {
    await browser.close();
  }
}

main().catch((error) => {
  console.error(error && error.stack ? error.stack : String(error));
  process.exit(1);
});
