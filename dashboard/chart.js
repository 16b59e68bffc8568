// A plotly figure drawn by plotly.js's basic bundle (dashboard/chart.py), themed as Streamlit's own
// chart element themes it (its applyStreamlitTheme and replaceTemporaryColors), light or dark by
// the app's background. data: {spec: the figure's JSON, config: plotly config, src: bundle URL, alt}.

// Streamlit's chart greys by theme (not exposed as CSS variables; read off st.plotly_chart's
// figures in both themes, checked by tests/e2e/test_chart_renderer.py)
const GREYS = {
  light: {green: '#29b09d', red: '#ff2b2b', blue: '#0068c9', grid: '#e6eaf1', faded: '#808495',
          strongest: '#262730', bgMix: 'rgba(252, 252, 251, 1)'},
  dark: {green: '#7defa1', red: '#ffabab', blue: '#83c9ff', grid: '#31333F', faded: '#e6eaf1',
         strongest: '#fafafa', bgMix: 'rgba(34, 33, 30, 1)'},
};

const bundles = {};

function plotly(src) {
  bundles[src] = bundles[src] || new Promise((loaded, failed) => {
    const script = document.createElement('script');
    script.src = src;
    script.onload = () => loaded(window.Plotly);
    script.onerror = () => failed(new Error(`could not load ${src}`));
    document.head.appendChild(script);
  });
  return bundles[src];
}

let colourProbe = null;

// a CSS colour ('#171614', 'rgb(23, 22, 20)', 'black') as [red, green, blue], 0-255
function rgb(colour) {
  colourProbe = colourProbe || document.createElement('canvas').getContext('2d');
  colourProbe.fillStyle = '#000000';
  colourProbe.fillStyle = colour;
  const value = colourProbe.fillStyle;
  if (value.startsWith('#')) return [1, 3, 5].map(i => parseInt(value.slice(i, i + 2), 16));
  return value.match(/[\d.]+/g).slice(0, 3).map(Number);
}

const luminance = colour => rgb(colour).reduce((sum, c, i) => sum + [0.2126, 0.7152, 0.0722][i] * c / 255, 0);

// a CSS font list as Streamlit's theme writes it: '"Source Sans", sans-serif'
const font = list => (list || 'sans-serif').split(',').map(name => name.trim()).join(', ');

function theme(element) {
  const style = getComputedStyle(element);
  const css = name => style.getPropertyValue(`--st-${name}`).trim();
  const background = css('background-color') || '#ffffff';
  const text = css('text-color') || '#31333f';
  const list = name => css(name).split(',').map(c => c.trim()).filter(Boolean);
  return {
    key: [background, text, css('font'), css('chart-categorical-colors')].join('|'),
    greys: GREYS[luminance(background) < 0.5 ? 'dark' : 'light'],
    background, text, heading: css('heading-color') || text, border: css('border-color') || '#d6d6d9',
    bodyFont: font(css('font')), headingFont: font(css('heading-font') || css('font')),
    categorical: list('chart-categorical-colors'), sequential: list('chart-sequential-colors'),
    diverging: list('chart-diverging-colors'),
  };
}

const fadedText05 = text => `rgba(${rgb(text).join(', ')}, 0.1)`;

// the placeholder colours of Streamlit's plotly template (#000001 to #000040) in this theme
function withColours(spec, t) {
  const placeholders = [
    ['#000032', t.greys.green], ['#000033', t.greys.red], ['#000034', t.greys.blue],
    ['#000035', t.greys.grid], ['#000036', t.greys.faded], ['#000037', t.greys.strongest],
    ['#000038', t.background], ['#000039', fadedText05(t.text)], ['#000040', t.greys.bgMix],
  ];
  [t.categorical, t.sequential, t.diverging].forEach((colours, set) => colours.forEach((colour, i) =>
    placeholders.push([`#0000${String(set * 10 + i + 1).padStart(2, '0')}`, colour])));
  for (const [placeholder, colour] of placeholders) spec = spec.replaceAll(placeholder, colour);
  return spec;
}

function merge(target, source) {
  for (const [key, value] of Object.entries(source)) {
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      if (!target[key] || typeof target[key] !== 'object') target[key] = {};
      merge(target[key], value);
    } else {
      target[key] = value;
    }
  }
  return target;
}

// Streamlit's chart theme, merged over the figure's template layout (as its frontend does)
function themeLayout(t) {
  const g = t.greys;
  const axis = {zerolinecolor: g.grid, gridcolor: g.grid, tickcolor: g.grid, minor: {gridcolor: g.grid},
                tickfont: {color: g.faded, size: 12}, automargin: true};
  return {
    font: {color: g.faded, family: t.bodyFont, size: 12, weight: 400},
    title: {color: t.heading, subtitleColor: t.text, font: {family: t.headingFont, size: 16, color: t.heading},
            pad: {l: 4}, xanchor: 'left', x: 0},
    legend: {title: {font: {size: 12, color: g.faded}, side: 'top'}, valign: 'top', bordercolor: 'transparent',
             borderwidth: 0, font: {size: 12, color: g.strongest}},
    paper_bgcolor: t.background, plot_bgcolor: t.background,
    yaxis: {...axis, ticklabelposition: 'outside', title: {font: {color: g.faded, size: 14}, standoff: 24}},
    xaxis: {...axis, showgrid: false, zeroline: false, title: {font: {color: g.faded, size: 14}, standoff: 20},
            rangeselector: {bgcolor: t.background, bordercolor: g.grid, borderwidth: 1, x: 0}},
    margin: {pad: 8, r: 0, l: 0},
    hoverlabel: {bgcolor: t.background, bordercolor: t.border, font: {color: g.faded, family: t.bodyFont, size: 12}},
  };
}

function themedFigure(spec, t) {
  const figure = JSON.parse(withColours(spec, t));
  const layout = figure.layout = figure.layout || {};
  layout.template = layout.template || {};
  layout.template.layout = merge(layout.template.layout || {}, themeLayout(t));
  if (layout.title !== undefined) {
    const title = typeof layout.title === 'object' ? layout.title : {text: layout.title};
    layout.title = {...title, text: `<b>${title.text || ''}</b>`};
  }
  return figure;
}

function chartConfig(config, container) {
  const remove = new Set([...(config.modeBarButtonsToRemove || []), 'lasso2d', 'select2d', 'sendDataToCloud']);
  const fullscreen = {
    name: 'Fullscreen', title: 'Fullscreen',
    icon: {width: 512, height: 512, path: 'M32 32h160v64H96v96H32zm288 0h160v160h-64V96h-96zM32 320h64v96h96v64H32zm416 0h64v160H320v-64h128z'},
    click: () => (document.fullscreenElement ? document.exitFullscreen() : container.requestFullscreen()),
  };
  return {displaylogo: false, showSendToCloud: false, responsive: true, ...config,
          modeBarButtonsToRemove: [...remove], modeBarButtonsToAdd: [fullscreen, ...(config.modeBarButtonsToAdd || [])]};
}

export default function ({ parentElement, data }) {
  const container = parentElement.querySelector('.io-chart');
  const plot = container.querySelector('.io-chart-plot');
  if (data.alt) container.setAttribute('aria-label', data.alt);
  const draw = Plotly => {
    const t = theme(container);
    if (plot.__spec === data.spec && plot.__theme === t.key) return;
    const figure = themedFigure(data.spec, t);
    plot.__height = figure.layout.height || 450;  // px
    if (document.fullscreenElement !== container) plot.style.height = `${plot.__height}px`;
    // a new figure is drawn from scratch: its layout.datarevision (compute.cached_figure) would make
    // Plotly.react take its new arrays as unchanged; new theme colours only are restyled
    const draws = plot.__spec === data.spec ? Plotly.react : Plotly.newPlot;
    plot.__spec = data.spec;
    plot.__theme = t.key;
    draws(plot, figure.data, figure.layout, chartConfig(data.config || {}, container));
  };
  let Plotly = null;
  plotly(data.src).then(loaded => { Plotly = loaded; draw(Plotly); })
    .catch(error => { container.textContent = `The chart could not be drawn: ${error.message}.`; });
  // the theme chosen in the app's menu changes the CSS variables: drawn again in its colours
  const themeWatch = new MutationObserver(() => Plotly && draw(Plotly));
  for (let node = container; node; node = node.parentElement) {
    themeWatch.observe(node, {attributes: true, attributeFilter: ['style', 'class']});
  }
  // full screen: the chart takes the screen's height; back to the figure's height after
  const resize = () => {
    if (!Plotly || !plot._fullLayout) return;
    const height = document.fullscreenElement === container ? window.innerHeight - 32 : plot.__height;
    plot.style.height = `${height}px`;
    Plotly.relayout(plot, {height, width: null}).then(() => Plotly.Plots.resize(plot));
  };
  document.addEventListener('fullscreenchange', resize);
  return () => {
    themeWatch.disconnect();
    document.removeEventListener('fullscreenchange', resize);
    if (Plotly) Plotly.purge(plot);
    delete plot.__spec;  // drawn again in full if the element is mounted again
    delete plot.__theme;
  };
}
