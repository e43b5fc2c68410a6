export { PipelinesSection } from './pipelines-section';
