import { LabIcon } from '@jupyterlab/ui-components';

// A flask over a bar chart; `jp-icon3` fills follow the theme's icon color.
const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M9 2h6v2h-1v5.2l5.6 9.3A2 2 0 0 1 17.9 21H6.1a2 2 0 0 1-1.7-2.5L10 9.2V4H9V2zm3 8.6-2.4 4h4.8l-2.4-4z"/>
  </g>
</svg>`;

export const mlbenchIcon = new LabIcon({ name: 'mlbench:icon', svgstr: svg });
