export { MonitorsSection } from './monitors-section';
