export const x = "sibling";
