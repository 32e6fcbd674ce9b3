/**
 * Dense linear algebra the techniques share where no library on the classpath does it fast enough: the float32
 * inverse-Hessian factor of GPTQ and SparseGPT and the row kernels of their error feedback ({@link InverseCholesky}).
 */
package io.condense.sdk.linalg;
