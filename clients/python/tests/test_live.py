"""Tests against a running server, named by CONDENSE_TEST_SERVER (host:port) with CONDENSE_TEST_MODEL (an ONNX model whose
initializers include fc1.weight of shape [300, 784], such as LeNet-300-100) and CONDENSE_TEST_BUNDLE (such a model saved
with its tensors in an external data file beside it, NAME.onnx + NAME.onnx.data); PythonPackageIT runs them on the
embedded platform. Skipped without the variables (the offline tests still run)."""
import os
import tempfile
import unittest
import uuid

os.environ.setdefault("CONDENSE_CACHE_DIR", tempfile.mkdtemp(prefix="condense-cache-"))

import numpy as np

import condense

SERVER = os.environ.get("CONDENSE_TEST_SERVER")
MODEL = os.environ.get("CONDENSE_TEST_MODEL")
BUNDLE = os.environ.get("CONDENSE_TEST_BUNDLE")


@unittest.skipUnless(SERVER and MODEL, "set CONDENSE_TEST_SERVER and CONDENSE_TEST_MODEL to run against a server")
class LiveTest(unittest.TestCase):
    def setUp(self):
        self.client = condense.Client(SERVER)

    def tearDown(self):
        self.client.close()

    def test_compress_writes_the_result(self):
        with tempfile.TemporaryDirectory() as folder:
            output = os.path.join(folder, "small.onnx")
            job = self.client.compress(MODEL, "quantize(bits=8)", output=output, skip_evaluation=True)
            self.assertEqual(condense.job_state_name(job.state), "COMPLETED")
            self.assertGreater(os.path.getsize(output), 0)
            self.assertLess(os.path.getsize(output), os.path.getsize(MODEL))

    def test_compress_sends_every_data_file_for_its_own_field(self):
        # the uploads go at once: each blob id must still land in its own field of the job
        with tempfile.TemporaryDirectory() as folder:
            inputs, labels, calibration = (os.path.join(folder, name) for name in ("x.npy", "y.npy", "calibration.npy"))
            rng = np.random.default_rng(3)
            np.save(inputs, rng.random((40, 784), dtype=np.float32))
            np.save(labels, rng.integers(0, 10, 40).astype(np.int64))
            np.save(calibration, rng.random((16, 784), dtype=np.float32))
            job = self.client.compress(MODEL, "quantize(activations=true, calibration_samples=16)", output=os.path.join(folder, "q.onnx"),
                                       eval_data=inputs, eval_labels=labels, calibration_data=calibration)
            self.assertEqual(condense.job_state_name(job.state), "COMPLETED")
            evaluation, step = job.report["evaluation"], job.report["steps"][0]["report"]
            self.assertEqual(evaluation["data"], "evaluation data with labels")
            self.assertEqual(evaluation["samples"], 40)
            self.assertEqual(step["calibration_samples"], 16)
            with self.assertRaises(OSError):
                self.client.compress(MODEL, "quantize(bits=8)", calibration_data=os.path.join(folder, "missing.npy"))

    def test_an_unchanged_file_is_not_sent_again_and_an_id_the_server_lost_is_sent_again(self):
        with tempfile.TemporaryDirectory() as folder:
            calibration = os.path.join(folder, "calibration.npy")
            np.save(calibration, np.random.default_rng(4).random((8, 784), dtype=np.float32))
            from condense.uploads import UploadCache
            # a cache of its own: the other tests have sent MODEL already
            self.client = condense.Client(SERVER, upload_cache=UploadCache(SERVER, os.path.join(folder, "uploads.json")))
            sent = []
            start_upload = self.client.start_upload
            self.client.start_upload = lambda source: sent.append(source) or start_upload(source)
            pipeline = "quantize(activations=true, calibration_samples=8)"
            first = self.client.compress(MODEL, pipeline, calibration_data=calibration, skip_evaluation=True)
            self.assertEqual(sorted(sent), sorted([MODEL, calibration]))
            sent.clear()
            not_sent = []
            again = self.client.compress(MODEL, pipeline, calibration_data=calibration, skip_evaluation=True,
                                         on_reuse=lambda path, blob_id: not_sent.append((path, blob_id)))
            self.assertEqual(sent, [])
            self.assertEqual(sorted(path for path, _ in not_sent), sorted([MODEL, calibration]))
            self.assertEqual(dict(not_sent)[calibration], self.client._uploads.blob_id(calibration))
            self.assertEqual(again.report["ratio"], first.report["ratio"])
            # an id the server does not hold (collected after its retention): Submit says NOT_FOUND, and every file taken
            # as stored goes after all
            self.client._uploads.remember(calibration, "0" * 64)
            third = self.client.compress(MODEL, pipeline, calibration_data=calibration, skip_evaluation=True)
            self.assertEqual(sorted(sent), sorted([MODEL, calibration]))
            self.assertEqual(condense.job_state_name(third.state), "COMPLETED")
            self.assertNotEqual(self.client._uploads.blob_id(calibration), "0" * 64)
            # without the cache every file goes
            sent.clear()
            with condense.Client(SERVER, upload_cache=False) as plain:
                plain_start = plain.start_upload
                plain.start_upload = lambda source: sent.append(source) or plain_start(source)
                plain.compress(MODEL, pipeline, calibration_data=calibration, skip_evaluation=True)
            self.assertEqual(sorted(sent), sorted([MODEL, calibration]))

    def test_the_command_line_compresses_prints_the_figures_and_says_what_is_wrong(self):
        import subprocess
        import sys
        with tempfile.TemporaryDirectory() as folder:
            output, report = os.path.join(folder, "small.onnx"), os.path.join(folder, "report.json")
            done = subprocess.run([sys.executable, "-m", "condense", "compress", MODEL, "--pipeline", "prune(sparsity=0.5) | quantize(bits=8)",
                                   "-o", output, "--server", SERVER, "--report", report], capture_output=True, text=True, timeout=300)
            self.assertEqual(done.returncode, 0, done.stderr)
            self.assertIn("[step 1] prune started", done.stderr)
            self.assertIn("[step 2] quantize done in", done.stderr)
            self.assertIn("ratio", done.stdout)
            self.assertIn("sqnr_db", done.stdout)
            self.assertIn("Wrote %s (%d bytes)" % (output, os.path.getsize(output)), done.stdout)
            with open(report) as f:
                self.assertIn("evaluation", f.read())
            refused = subprocess.run([sys.executable, "-m", "condense", "compress", MODEL, "--pipeline", "quantize(bits=9)", "-o", output,
                                      "--server", SERVER], capture_output=True, text=True, timeout=300)
            self.assertEqual(refused.returncode, 1)
            self.assertIn("bits", refused.stderr)

    def test_a_channel_takes_numpy_pushes_and_refuses_bad_ones(self):
        channel = self.client.channel("py-" + uuid.uuid4().hex[:8])
        channel.create(MODEL, "quantize(bits=8)", policy="every")
        first = channel.push({"fc1.weight": np.full((300, 784), 0.01, dtype=np.float32)}, step=10)
        self.assertEqual(first.version, 1)
        with self.assertRaises(condense.CondenseError) as refused:
            channel.push({"fc1.weight": np.zeros((784, 300), dtype=np.float32)}, step=20)
        self.assertEqual(refused.exception.code, "INVALID_ARGUMENT")
        self.assertIn("'fc1.weight'", str(refused.exception))
        with self.assertRaises(condense.CondenseError):
            channel.push({"fc1.weight": np.full((300, 784), np.nan, dtype=np.float32)}, step=30)
        self.assertEqual(channel.push({"fc1.bias": np.zeros(300, dtype=np.float32)}, step=40).version, 2)
        states = []
        for version in channel.watch(from_version=0):
            states.append((version.version, condense.state_name(version.state), version.step))
            if version.version == 2:
                break
        self.assertEqual(states, [(1, "COMPRESSED", 10), (2, "COMPRESSED", 40)])
        with tempfile.TemporaryDirectory() as folder:
            self.assertGreater(channel.download(2, os.path.join(folder, "v2.onnx")), 0)
        self.assertEqual(channel.status().latest_version, 2)
        self.assertIn(channel.name, [c.name for c in self.client.channels()])
        channel.delete()
        with self.assertRaises(condense.CondenseError) as gone:
            channel.status()
        self.assertEqual(gone.exception.code, "NOT_FOUND")


@unittest.skipUnless(SERVER and BUNDLE, "set CONDENSE_TEST_SERVER and CONDENSE_TEST_BUNDLE to run against a server")
class BundleLiveTest(unittest.TestCase):
    def setUp(self):
        self.client = condense.Client(SERVER)

    def tearDown(self):
        self.client.close()

    def test_compress_sends_the_data_files_and_writes_the_result_with_its_data_file(self):
        self.assertEqual(condense.data_files(BUNDLE), [os.path.basename(BUNDLE) + ".data"])
        with tempfile.TemporaryDirectory() as folder:
            output = os.path.join(folder, "small.onnx")
            job = self.client.compress(BUNDLE, "quantize(bits=8)", output=output, skip_evaluation=True)
            self.assertEqual(condense.job_state_name(job.state), "COMPLETED")
            names = condense.data_files(output)
            self.assertEqual(names, ["small.onnx.data"])
            data = os.path.getsize(os.path.join(folder, names[0]))
            # int8 levels of LeNet-300-100's 266,610 weights beside the model: about a quarter of the float data file
            self.assertGreater(data, 266_000)
            self.assertLess(data, os.path.getsize(BUNDLE + ".data") / 3)
            self.assertEqual(sorted(os.listdir(folder)), sorted(["small.onnx"] + names))

    def test_a_bundle_is_refused_as_a_channels_base_model_saying_what_to_do(self):
        from condense.bundle import upload_bundle
        from condense.v1 import channel_service_pb2 as channels
        channel = self.client.channel("py-bundle-" + uuid.uuid4().hex[:8])
        with self.assertRaises(condense.CondenseError) as refused:
            channel.create(BUNDLE, "quantize(bits=8)")
        self.assertEqual(refused.exception.code, "UNSUPPORTED_MODEL")
        self.assertIn("without external data", str(refused.exception))
        # the server refuses a bundle's id too, for clients that send one anyway
        blob = upload_bundle(self.client, BUNDLE)
        request = channels.CreateChannelRequest(name=channel.name, model_id=blob)
        request.steps.add(technique="quantize", parameters={"bits": "8"})
        with self.assertRaises(condense.CondenseError) as server:
            channel._unary("CreateChannel", request, channels.Channel)
        self.assertIn("is a model bundle", str(server.exception))
        self.assertIn("without external data", str(server.exception))


if __name__ == "__main__":
    unittest.main()
