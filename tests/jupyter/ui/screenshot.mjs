// Open a notebook in JupyterLab, run all cells, wait for the fluxlab dashboard,
// screenshot it.  Usage: node screenshot.mjs URL OUT.png PROFILE_DIR TIMEOUT_MS
import { chromium } from "playwright-core";

const [url, out, profile, timeoutArg] = process.argv.slice(2);
const timeout = Number(timeoutArg || 120000);
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1500, height: 1250 },
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const page = ctx.pages()[0] || (await ctx.newPage());
page.setDefaultTimeout(timeout);
let status = 0;
try {
  await page.goto(url);
  await page.waitForSelector(".jp-NotebookPanel .jp-Cell", { timeout });
  await page.waitForSelector(".jp-Notebook-ExecutionIndicator[data-status='idle'], .jp-Toolbar-kernelStatus", { timeout }).catch(() => {});
  await page.waitForTimeout(2000);
  await page.click("li.lm-MenuBar-item:has-text('Run')");
  await page.click("li.lm-Menu-item:has-text('Run All Cells')");
  await page.waitForSelector(".fluxlab-jobtable table.fl-table tr.fl-row", { timeout });
  await page.waitForSelector(".fluxlab-rgraph .fl-cell", { timeout });
  await page.waitForSelector(".js-plotly-plot .main-svg", { timeout });
  await page.waitForTimeout(4000); // a few live ticks: running jobs, timeline bars
  // collapse the left sidebar and scroll the dashboard into view
  await page.evaluate(() => {
    const el = document.querySelector(".fluxlab-rgraph");
    el.closest(".jp-Cell").scrollIntoView({ block: "start" });
  });
  await page.waitForTimeout(800);
  const cell = page.locator(".jp-Cell:has(.fluxlab-rgraph)");
  await cell.screenshot({ path: out });
  const info = await page.evaluate(() => ({
    rows: document.querySelectorAll(".fluxlab-jobtable tr.fl-row").length,
    cells: document.querySelectorAll(".fluxlab-rgraph .fl-cell").length,
    bars: document.querySelectorAll(".js-plotly-plot .bars path, .js-plotly-plot .point path").length,
  }));
  console.log(JSON.stringify({ screenshot: out, ...info }));
  if (!info.rows || !info.cells) status = 1;
} catch (e) {
  console.error(String(e));
  await page.screenshot({ path: out.replace(/\.png$/, "-error.png") }).catch(() => {});
  status = 1;
}
await ctx.close();
process.exit(status);
