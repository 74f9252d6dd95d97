/** @module @virtos/composer */
export {};
