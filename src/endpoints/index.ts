export { EndpointsSection } from './endpoints-section';
