/** @module @virtos/images */
export {};
