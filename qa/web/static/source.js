// The source pane: a PDF's pages (previous, next, a page number) come from the server; zoom
// is done here and kept while pages change. Escape or "Close" hides the pane and puts the
// focus back on the citation that opened it.
let zoom = 1;
const ZOOMS = [0.5, 0.75, 1, 1.25, 1.5, 2, 3];
const applyZoom = () => {
  element.querySelectorAll('.qa-page-frame').forEach((frame) => { frame.style.width = (zoom * 100) + '%'; });
  element.querySelectorAll('.qa-zoom-level').forEach((level) => { level.textContent = Math.round(zoom * 100) + '%'; });
};
const turnTo = (wanted) => {
  const view = element.querySelector('.qa-source-view');
  const input = element.querySelector('.qa-page-input');
  const count = Number((input || {}).max || 0);
  const now = view ? Number(view.dataset.page) : 0;
  if (!Number.isFinite(wanted)) { if (input) input.value = now; return; }
  // A page out of range goes to the first or the last, and the box says which.
  const page = Math.max(1, Math.min(count || 1, Math.round(wanted)));
  if (input) input.value = page;
  if (page !== now) trigger('click', {action: 'page', page});
};
element.addEventListener('click', (event) => {
  const button = event.target.closest('button[data-action], button[data-zoom]');
  if (!button || !element.contains(button) || button.disabled) return;
  event.preventDefault();
  if (button.dataset.zoom !== undefined) {
    const step = Number(button.dataset.zoom);
    const at = ZOOMS.indexOf(zoom);
    zoom = step === 0 ? 1 : ZOOMS[Math.min(ZOOMS.length - 1, Math.max(0, at + step))];
    applyZoom();
    return;
  }
  if (button.dataset.action === 'page') turnTo(Number(button.dataset.page));
});
element.addEventListener('change', (event) => {
  if (event.target.classList && event.target.classList.contains('qa-page-input')) turnTo(Number(event.target.value));
});
element.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && event.target.classList && event.target.classList.contains('qa-page-input')) {
    event.preventDefault();
    turnTo(Number(event.target.value));
  }
});
const show = () => {
  applyZoom();
  const quoted = element.querySelector('.qa-para, .qa-box-quote');
  if (quoted) quoted.scrollIntoView({block: 'center', inline: 'nearest'});
};
watch('value', show);
show();
// Once per page: Escape closes the pane, and closing it gives the focus back to the citation.
if (!window.qaPaneKeys) {
  window.qaPaneKeys = true;
  const pane = () => document.getElementById('qa-source-pane');
  const refocus = () => {
    const opener = window.qaOpener;
    if (!opener) return;
    let target = null;
    if (opener.turn !== undefined) {
      target = document.querySelector(`#qa-chat .qa-cite[data-turn="${opener.turn}"][data-quote="${CSS.escape(opener.quote)}"]`);
    } else if (opener.source) {
      target = [...document.querySelectorAll('#qa-documents .qa-doc-open')].find((b) => b.dataset.source === opener.source);
    }
    if (target) target.focus();
  };
  document.addEventListener('keydown', (event) => {
    const open = pane();
    // Not shown: Escape is left to whatever else uses it.
    if (event.key !== 'Escape' || !open || open.getClientRects().length === 0) return;
    const close = document.querySelector('#qa-source-close');
    if (!close) return;
    event.preventDefault();
    close.click();
  });
  document.addEventListener('click', (event) => {
    if (event.target.closest && event.target.closest('#qa-source-close')) setTimeout(refocus, 0);
  });
}
