import os

from pipelines.storage import delete_matching, download_matching, is_remote, join, upload


def test_upload_a_directory_and_download_its_shards(tmp_path):
    src = tmp_path / "bundle"
    (src / "plots").mkdir(parents=True)
    (src / "booster.txt").write_text("trees")
    (src / "plots" / "calibration.png").write_bytes(b"\x89PNG")
    remote = tmp_path / "stage" / "bundle"  # any Beam filesystem; a local one here
    upload(str(src), str(remote))
    assert (remote / "booster.txt").read_text() == "trees"
    assert (remote / "plots" / "calibration.png").read_bytes() == b"\x89PNG"

    out = tmp_path / "stage" / "scores"
    out.mkdir()
    for i in range(3):
        (out / f"part-0000{i}-of-00003.parquet").write_bytes(bytes([i]) * 10)
    got = download_matching(str(out / "part-*"), str(tmp_path / "local"))
    assert [os.path.basename(p) for p in got] == [f"part-0000{i}-of-00003.parquet" for i in range(3)]
    assert delete_matching(str(out / "part-*")) == 3
    assert not list(out.iterdir())


def test_remote_paths_are_recognised():
    assert is_remote("gs://bucket/x") and not is_remote("/tmp/x") and not is_remote("file:///tmp/x")
    assert join("gs://bucket/root", "scores", "part") == "gs://bucket/root/scores/part"
