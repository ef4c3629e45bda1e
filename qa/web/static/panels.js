// The sidebar's lists (conversations, documents): a click on a button becomes one event
// carrying what was clicked. Removing a document and deleting a conversation are asked first.
const closeOnPhone = () => {
  const sidebar = document.getElementById('qa-sidebar');
  if (!sidebar || !sidebar.classList.contains('open') || !window.matchMedia('(max-width: 700px)').matches) return;
  const toggle = sidebar.querySelector('.toggle-button');
  if (toggle) toggle.click();
};
// A phone starts with the chat, not the sidebar over it (once per page: two lists run this file).
if (!window.qaSidebarChecked) {
  window.qaSidebarChecked = true;
  requestAnimationFrame(closeOnPhone);
}
element.addEventListener('click', (event) => {
  const button = event.target.closest('[data-action]');
  if (!button || !element.contains(button)) return;
  event.preventDefault();
  const action = button.dataset.action;
  const data = {
    action,
    conversation: button.dataset.conversation || '',
    source: button.dataset.source || '',
    title: '',
  };
  if (action === 'delete' && !window.confirm(`Delete the conversation “${button.dataset.title}”? It cannot be brought back.`)) return;
  if (action === 'remove' && !window.confirm(`Remove ${button.dataset.source}? Its paragraphs leave the index; the file is moved to the trash beside the index.`)) return;
  if (action === 'rename') {
    const title = window.prompt('A new name for this conversation:', button.dataset.title || '');
    if (title === null || !title.trim()) return;
    data.title = title.trim();
  }
  if (action === 'view') window.qaOpener = {source: data.source};
  // On a phone the sidebar covers the page: it is closed once something is chosen in it.
  if (action === 'view' || action === 'open') closeOnPhone();
  trigger('click', data);
});
