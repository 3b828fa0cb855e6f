// What Vite gives the sources (only internally: no exported type uses it).
declare module "*.css?inline" {
  const css: string;
  export default css;
}
