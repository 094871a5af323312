export { inspectorRoutes, type InspectorOptions } from './routes.ts';
export { hostEventStream, type EventStreamOptions } from './events.ts';
export { deriveChart, allStates, type Chart, type ChartState, type ChartTransition, type StateKind } from './chart.ts';
export { chartLayout, layoutChart, type ChartLayout } from './layout.ts';
export { renderChartSvg } from './svg.ts';
