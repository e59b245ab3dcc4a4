package io.mm1j.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.Device;
import io.mm1j.Mm1Exception;
import io.mm1j.TestSupport;
import org.junit.jupiter.api.Test;

/** {@code --device} / {@code train.devices} names, and the error when a GPU is asked for on a CPU-only engine. */
class DeviceNamesTest {
    @Test
    void cudaAndGpuNamesParse() {
        assertEquals(Device.cpu(), Engines.parseDevice("cpu", "--device"));
        assertEquals(Device.gpu(0), Engines.parseDevice("cuda", "--device"));
        assertEquals(Device.gpu(3), Engines.parseDevice("cuda:3", "--device"));
        assertEquals(Device.gpu(1), Engines.parseDevice("gpu1", "--device"));
        assertEquals(Device.gpu(2), Engines.parseDevice("GPU:2", "--device"));
        Mm1Exception e = assertThrows(Mm1Exception.class, () -> Engines.parseDevice("cuda0", "--device"));
        assertEquals("--device must be cpu, cuda or cuda:N (also gpu, gpuN), got 'cuda0'", e.getMessage());
        assertThrows(Mm1Exception.class, () -> Engines.parseDevice("tpu", "train.devices"));
    }

    @Test
    void aGpuTheEngineDoesNotSeeIsAClearCliError() {
        org.junit.jupiter.api.Assumptions.assumeTrue(Engines.init(0).getGpuCount() == 0, "a GPU is present");
        TestSupport.CliRun r = TestSupport.cli("bench", "gemm", "--n", "64", "--device", "cuda:0");
        assertEquals(1, r.code());
        assertEquals("mm1: error: CUDA device cuda:0 is not available: the PyTorch engine sees 0 GPUs (a CUDA build is "
                + "needed: mvn -Pcuda, or MM1_CUDA=1 ./mm1, and an NVIDIA driver)", r.err().strip());
    }
}
