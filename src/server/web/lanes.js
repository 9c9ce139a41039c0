// The lanes of a parallel block, shared by the live view and the run viewer: as many columns as
// fit at a readable width, balanced over the rows (four threads: 4 × 1, 2 × 2 or 1 × 4, never
// 3 + 1), so every thread is on screen without scrolling sideways; a long thread scrolls in its lane.

const MIN_LANE_REM = 13;

function columnsFor(count, width, minWidth) {
  const fit = Math.max(1, Math.min(count, Math.floor(width / minWidth)));
  const rows = Math.ceil(count / fit);
  return Math.ceil(count / rows);
}

function fit(lanes) {
  const count = lanes.children.length;
  const rem = parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
  const cols = columnsFor(count, lanes.clientWidth, MIN_LANE_REM * rem);
  lanes.style.setProperty('--cols', String(Math.max(1, cols)));
  lanes.dataset.cols = String(cols);
}

const observer = new ResizeObserver((entries) => {
  for (const e of entries) fit(e.target);
});

/** A lanes container that keeps its columns fitted to its width and its lane count. */
export function lanesBox(className = 'lanes') {
  const lanes = document.createElement('div');
  lanes.className = className;
  observer.observe(lanes);
  new MutationObserver(() => fit(lanes)).observe(lanes, { childList: true });
  return lanes;
}

/** A thread's text without the closing tag the format puts at its end (`</Thread>`, `</Path>`, …). */
export function threadBody(text, finished = true) {
  const closed = text.replace(/\n?<\/[A-Za-z][\w-]*>\s*$/, '');
  // While it streams, a closer may be arriving in pieces: hide a partial one at the very end.
  return finished ? closed : closed.replace(/\n?<(\/[A-Za-z]*)?$/, '');
}

/** "1 thread", "4 threads". */
export const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;
