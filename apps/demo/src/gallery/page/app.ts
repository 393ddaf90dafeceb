// The gallery page (placeholder while the page is written).
document.getElementById('app')!.textContent = 'flowmatch gallery';
