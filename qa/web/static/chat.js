const send = (data) => trigger('click', Object.assign({action: '', turn: -1, quote: '', vote: '', query: ''}, data));
// What the person changed on the page that a redraw would lose: open "more passages", edited searches.
const opened = new Set();
const edits = new Map();
element.addEventListener('toggle', (event) => {
  const more = event.target;
  if (!more.classList || !more.classList.contains('qa-more')) return;
  if (more.open) opened.add(more.dataset.turn); else opened.delete(more.dataset.turn);
}, true);
element.addEventListener('input', (event) => {
  const input = event.target;
  if (input.classList && input.classList.contains('qa-searched-input')) edits.set(input.dataset.turn, input.value);
});
element.addEventListener('click', async (event) => {
  const button = event.target.closest('[data-action]');
  if (!button || !element.contains(button)) return;
  event.preventDefault();
  const action = button.dataset.action;
  if (action === 'copy') {
    const text = button.dataset.copy;
    try {
      await navigator.clipboard.writeText(text);
    } catch (error) {
      const area = document.createElement('textarea');
      area.value = text;
      document.body.appendChild(area);
      area.select();
      document.execCommand('copy');
      area.remove();
    }
    button.textContent = 'Copied';
    setTimeout(() => { button.textContent = 'Copy quote'; }, 1500);
    return;
  }
  const turn = Number(button.dataset.turn);
  const data = {action, turn, quote: button.dataset.quote || '', vote: button.dataset.vote || ''};
  // Where the focus goes back when the source pane is closed.
  if (action === 'cite') window.qaOpener = {turn, quote: data.quote};
  if (action === 'rerun') {
    const input = element.querySelector('#qa-searched-' + turn);
    data.query = input ? input.value : '';
    edits.delete(String(turn));
  }
  send(data);
});
element.addEventListener('keydown', (event) => {
  const input = event.target;
  if (event.key === 'Enter' && input.classList && input.classList.contains('qa-searched-input')) {
    event.preventDefault();
    edits.delete(input.dataset.turn);
    send({action: 'rerun', turn: Number(input.dataset.turn), query: input.value});
  }
});
let seen = '';
const redrawn = () => {
  element.querySelectorAll('details.qa-more').forEach((more) => { more.open = opened.has(more.dataset.turn); });
  element.querySelectorAll('.qa-searched-input').forEach((input) => {
    input.value = edits.has(input.dataset.turn) ? edits.get(input.dataset.turn) : input.defaultValue;
  });
  const log = element.querySelector('.qa-log');
  if (!log) return;
  // Follow the newest turn when one is added or answered, not on every redraw.
  const searching = log.querySelectorAll('.qa-searching').length;
  const now = log.dataset.turns + '/' + searching;
  if (now === seen) return;
  seen = now;
  const turns = log.querySelectorAll('.qa-turn');
  const last = turns[turns.length - 1];
  if (!last || searching) { log.scrollTop = log.scrollHeight; return; }
  // An answer: its question at the top of the list if its first quote still shows, else the quote itself.
  const first = last.querySelector('.qa-quote') || last.querySelector('.qa-answer-block') || last;
  const top = (node) => node.getBoundingClientRect().top - log.getBoundingClientRect().top + log.scrollTop;
  const fits = top(first) + Math.min(first.offsetHeight, 160) - top(last) <= log.clientHeight;
  log.scrollTop = fits ? top(last) : top(first);
  // And the list itself in the window (a phone shows little of the page at once).
  const box = first.getBoundingClientRect();
  if (box.top < 0 || box.bottom > window.innerHeight) window.scrollBy({top: box.top - window.innerHeight * 0.12});
};
watch('value', redrawn);
redrawn();
