// exit: 1
export default { fetch( {
