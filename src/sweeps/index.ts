export { SweepsSection } from './sweeps-section';
