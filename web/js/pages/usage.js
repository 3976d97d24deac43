// Placeholder until this page is built.
import { pageHead } from "../dom.js";

export default async function render(root) {
  root.append(pageHead("nav.usage"));
}
