// Loads the built web demo (web/dist) in headless Chromium with WebGPU, served on the loopback,
// and checks what a visitor sees: the sphere drawn right of the panel in many colours, the
// training steps advancing, an image loaded through the page's file input changing the
// colours; the same sphere trained by the fused GPU step on the page's WebGPU device
// (`?backend=wgpu`: on SwiftShader the CPU is the default), saved as a checkpoint and exported
// as glTF through the browser's downloads, the checkpoint opened again through the page's file
// input; and, in a page without WebGPU, a
// message in words. Prints the time to the first picture, the frame rate, the training speed
// and the backend of each. Exits non-zero with one line on the first check that fails.
//
// No check waits a fixed time: each goes on while what it waits for moves (the page loading,
// frames, steps), and fails only when that stands still for STALL_S, or after CAP_S in all,
// saying which with what it saw. The machine may be busy: CI shares it with the native tests.
//
//     node web/test/page.mjs [web/dist] [image to load]

import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, resolve } from "node:path";
import { chromium } from "playwright-core";
import { PNG } from "pngjs";

const dist = resolve(process.argv[2] ?? "web/dist");
const image = resolve(process.argv[3] ?? "assets/images/earth.jpg");
const STALL_S = 300;
const CAP_S = 900;
const started = Date.now();
const seconds = () => (Date.now() - started) / 1000;

const types = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm" };
const server = createServer(async (request, response) => {
  const url = new URL(request.url, "http://localhost").pathname;
  const path = url === "/" ? "/index.html" : url;
  try {
    const body = await readFile(join(dist, path));
    response.writeHead(200, { "content-type": types[extname(path)] ?? "application/octet-stream" });
    response.end(body);
  } catch {
    response.writeHead(404).end();
  }
});
await new Promise((ready) => server.listen(0, "127.0.0.1", ready));
const url = `http://127.0.0.1:${server.address().port}/`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  // WebGPU on SwiftShader through Vulkan: with Chromium's default headless GL the canvas's swap
  // chain has no shared-image backing and the device is lost on the first frames.
  args: ["--no-sandbox", "--enable-unsafe-webgpu", "--enable-features=Vulkan", "--use-angle=vulkan",
         "--use-vulkan=swiftshader", "--enable-unsafe-swiftshader",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", "--disable-quic"],
});
// A page whose own operations (a screenshot, a selector) wait as long as the checks' cap, not
// Playwright's 30 s: the checks' waits decide when to give up.
async function newPage() {
  const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
  page.setDefaultTimeout(CAP_S * 1000);
  return page;
}

let failed = null;
try {
  await check(await newPage());
  await checkGpu(await newPage());
  await checkWithoutWebGpu(await newPage());
} catch (error) {
  failed = error;
} finally {
  await browser.close();
  server.close();
}
if (failed) {
  console.error(`web test failed after ${seconds().toFixed(0)} s: ${failed.message}`);
  process.exit(1);
}

async function check(page) {
  const { fail, firstPicture, picture } = await open(page, "");
  const { before, after, span } = await measure(page, 5000, fail);

  // An image through the page's file input recolours the sphere.
  const textured = sphereColours(await page.screenshot());
  await page.setInputFiles("#open", image);
  let recoloured = null;
  await waitFor("loading an image through the page to change the sphere's colours", fail, async () => {
    const shot = sphereColours(await page.screenshot());
    if (histogramDistance(textured.hues, shot.hues) > 0.25) recoloured = shot;
    return { done: recoloured !== null, progress: await status(page) };
  });

  report("default", firstPicture, before, after, span);
  console.log(`colours right of the panel: ${picture.colours} at first, ${recoloured.colours} after ` +
              `the image (hue change ${histogramDistance(textured.hues, recoloured.hues).toFixed(2)})`);
  await page.screenshot({ path: join(dist, "screenshot.png") });
}

// The fused GPU step on the page's WebGPU device: queued each frame, read back without waiting.
async function checkGpu(page) {
  const { fail, firstPicture } = await open(page, "?backend=wgpu");
  const { before, after, span } = await measure(page, 10000, fail);
  if (!after.backend.startsWith("training on the GPU")) fail(`?backend=wgpu trains elsewhere: ${after.backend}`);
  report("?backend=wgpu", firstPicture, before, after, span);
  await page.screenshot({ path: join(dist, "screenshot-gpu.png") });

  // A checkpoint and a mesh, read back from the GPU without waiting, as downloads.
  let checkpoint = null;
  for (const [name, check] of [
    ["sphere.mpk", (bytes) => bytes.length > 1000],
    ["sphere.glb", (bytes) => bytes.subarray(0, 4).toString() === "glTF" && bytes.readUInt32LE(8) === bytes.length],
  ]) {
    let file = null;
    page.waitForEvent("download").then((d) => (file = d), () => {});
    await page.evaluate((name) => window.sphere.download(name), name);
    await waitFor(`the download of ${name}`, fail, async () => ({ done: file !== null, progress: await status(page) }));
    const bytes = await readFile(await file.path());
    if (file.suggestedFilename() !== name || !check(bytes)) {
      fail(`the download of ${name} came as ${file.suggestedFilename()}, ${bytes.length} bytes`);
    }
    console.log(`?backend=wgpu: downloaded ${name}, ${bytes.length} bytes`);
    if (name.endsWith(".mpk")) checkpoint = await file.path();
  }

  // The checkpoint back through the page's file input: the network it holds trains on.
  await page.setInputFiles("#open", { name: "sphere.mpk", mimeType: "application/octet-stream",
                                      buffer: await readFile(checkpoint) });
  let said = "";
  await waitFor("loading the checkpoint through the page", fail, async () => {
    said = await page.evaluate(() => window.sphere.message());
    return { done: said.startsWith("loaded sphere.mpk"), progress: { said, ...(await status(page)) } };
  });
  console.log(`?backend=wgpu: ${said}`);
}

// Loads the page with `query` and waits for the first picture: the sphere right of the panel,
// lit and colourful.
async function open(page, query) {
  const logs = [];
  page.on("console", (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => logs.push(`page error: ${e.message}`));
  const fail = (what) => {
    throw new Error(`${query || "default page"}: ${what}\n  last page logs:\n  ${logs.slice(-8).join("\n  ")}`);
  };
  const opened = Date.now();
  // Not until "load": the page's module script waits for the whole .wasm to download and
  // compile, which the wait below times instead.
  await page.goto(url + query, { waitUntil: "commit" });
  await page.waitForSelector("#message", { state: "attached" });
  let picture = null;
  await waitFor("the first picture (a lit, colourful sphere right of the panel)", fail, async () => {
    const message = await page.$eval("#message", (m) => m.className === "shown" && m.textContent);
    if (message && !message.startsWith("Loading")) fail(`the page says: ${message}`);
    // A screenshot waits for the page's next frame, which is when the picture was there.
    const shot = sphereColours(await page.screenshot());
    if (shot.lit > 2000 && shot.colours >= 24) picture = shot;
    // Until the module has started, `window.sphere` is the canvas of that id.
    const started = await page.evaluate(() => typeof window.sphere?.training_steps === "function");
    const progress = { message, lit: shot.lit, colours: shot.colours, ...(started ? await status(page) : {}) };
    return { done: picture !== null, progress };
  });
  return { fail, firstPicture: (Date.now() - opened) / 1000, picture };
}

// What a wait counts as the page moving: its frames and its training steps.
function status(page) {
  return page.evaluate(() => ({
    steps: window.sphere.training_steps(),
    frames: window.sphere.frames(),
    backend: window.sphere.backend(),
  }));
}

// Calls `look` every 250 ms until it says `done`. It goes on while the `progress` it reports
// changes, and calls `fail` when that stood still for STALL_S, or after CAP_S in all.
async function waitFor(what, fail, look) {
  const start = Date.now();
  let moved = start, first = null, last = null, polls = 0;
  while (true) {
    const { done, progress } = await look();
    if (done) return;
    polls++;
    const now = JSON.stringify(progress);
    if (now !== last) [first, last, moved] = [first ?? now, now, Date.now()];
    const [waited, still] = [(Date.now() - start) / 1000, (Date.now() - moved) / 1000];
    const seen = `${polls} polls in ${waited.toFixed(0)} s, first ${first}, last ${last}`;
    if (still > STALL_S) fail(`gave up waiting for ${what}: nothing moved for ${STALL_S} s (${seen})`);
    if (waited > CAP_S) fail(`gave up waiting for ${what}: still not there after ${CAP_S} s (${seen})`);
    await new Promise((resume) => setTimeout(resume, 250));
  }
}

// Steps, frames and speed over at least `ms` milliseconds, and until training has taken a
// step in them (the first steps on the GPU wait for its kernels to compile).
async function measure(page, ms, fail) {
  const before = await status(page);
  const t0 = Date.now();
  await page.waitForTimeout(ms);
  let after;
  await waitFor(`training steps past ${before.steps}`, fail, async () => {
    after = await status(page);
    return { done: after.steps > before.steps, progress: after.steps };
  });
  return { before, after, span: (Date.now() - t0) / 1000 };
}

function report(which, firstPicture, before, after, span) {
  console.log(`${which}: first picture after ${firstPicture.toFixed(1)} s (page load to a lit, ` +
              `colourful sphere); ${((after.frames - before.frames) / span).toFixed(1)} fps, ` +
              `${((after.steps - before.steps) / span).toFixed(0)} training steps/s ` +
              `(${before.steps} → ${after.steps} steps in ${span.toFixed(1)} s)`);
  console.log(`${which}: ${after.backend}`);
}

// A browser without WebGPU (here: one whose navigator.gpu is hidden) gets words, not a blank page.
async function checkWithoutWebGpu(page) {
  await page.addInitScript(() =>
    Object.defineProperty(Navigator.prototype, "gpu", { get: () => undefined }));
  await page.goto(url, { waitUntil: "commit" });
  const fail = (what) => { throw new Error(`without WebGPU: ${what}`); };
  let message = null;
  await waitFor("the page's message", fail, async () => {
    message = await page.evaluate(() => document.getElementById("message")?.textContent ?? null);
    return { done: message !== null && !message.startsWith("Loading"), progress: message };
  });
  message = await page.$eval("#message", (m) => m.className === "shown" && m.textContent);
  if (!message || !message.startsWith("This browser has no WebGPU")) {
    fail(`the page shows ${JSON.stringify(message)}`);
  }
  console.log(`without WebGPU the page says: ${message.split(".")[0]}.`);
}

// Pixels right of the panel (x ≥ 400) that differ from the background: how many, how many
// distinct colours (4 bits a channel), and their histogram over 12 hues.
function sphereColours(png) {
  const { width, height, data } = PNG.sync.read(png);
  const background = [13, 13, 20];
  const colours = new Set();
  const hues = new Array(12).fill(0);
  let lit = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 400; x < width; x++) {
      const i = (y * width + x) * 4;
      const [r, g, b] = [data[i], data[i + 1], data[i + 2]];
      if (Math.abs(r - background[0]) + Math.abs(g - background[1]) + Math.abs(b - background[2]) < 40) continue;
      lit++;
      colours.add((r >> 4) << 8 | (g >> 4) << 4 | (b >> 4));
      hues[hueBucket(r, g, b)]++;
    }
  }
  return { lit, colours: colours.size, hues: hues.map((h) => h / Math.max(lit, 1)) };
}

function hueBucket(r, g, b) {
  const max = Math.max(r, g, b), min = Math.min(r, g, b);
  if (max - min < 24) return 0; // greys share a bucket
  let h = max === r ? (g - b) / (max - min) : max === g ? 2 + (b - r) / (max - min) : 4 + (r - g) / (max - min);
  h = ((h * 60) + 360) % 360;
  return 1 + Math.min(10, Math.floor(h / 36));
}

function histogramDistance(a, b) {
  return a.reduce((sum, x, i) => sum + Math.abs(x - b[i]), 0) / 2;
}
