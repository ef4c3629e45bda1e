const show = () => {
  const quoted = element.querySelector('.qa-para, .qa-box-quote');
  if (quoted) quoted.scrollIntoView({block: 'center'});
};
watch('value', show);
show();
