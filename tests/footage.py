"""Facts about the real footage the tests and benchmarks use (labelled once, by eye)."""

from __future__ import annotations

# Setting of every shot of test.mp4 (PySceneDetect adaptive cuts), keyed by its first frame.
# Labelled by eye: a contact sheet of each shot's middle keyframe at 192², plus all keyframes of
# the dozen unclear shots. The music video is shot in five settings:
#   A  white studio, lattice-shadow backdrop (singer in dark jacket at a mic, dancer in black)
#   B  night street of blue-lit arches (singer in a trench coat, dancers in white)
#   C  sunlit chain-link fence with tree shadows (sunglasses, denim shirt); includes the four
#      shots of dancers' shadows on the sunny pavement cut into that sequence (761, 2753, 3255,
#      3357)
#   D  white brick wall in sun (blonde dancer in white, a man in a white T-shirt)
#   E  hall with gothic windows and golden light: bar, barman in red braces, chairs
# The last shot (5290-5300) is black: no setting, left out.
SETTINGS: dict[int, str | None] = {
    0: "A", 17: "A", 50: "A", 103: "A", 132: "A", 186: "B", 219: "B", 236: "A", 261: "A",
    282: "C", 301: "C", 371: "D", 435: "D", 456: "B", 573: "C", 613: "C", 665: "C", 695: "C",
    724: "C", 761: "C", 777: "C", 800: "C", 830: "B", 865: "B", 908: "B", 943: "C", 961: "D",
    990: "D", 1013: "C", 1058: "E", 1092: "A", 1108: "A", 1178: "A", 1201: "E", 1279: "E",
    1340: "E", 1389: "E", 1427: "A", 1485: "A", 1519: "B", 1554: "B", 1608: "B", 1670: "B",
    1701: "B", 1728: "B", 1815: "E", 1864: "E", 1906: "E", 1931: "A", 1958: "E", 1993: "A",
    2040: "A", 2060: "B", 2114: "B", 2154: "B", 2184: "B", 2202: "B", 2236: "A", 2252: "E",
    2287: "A", 2327: "E", 2349: "E", 2393: "E", 2414: "E", 2452: "A", 2502: "A", 2535: "E",
    2567: "E", 2606: "A", 2661: "A", 2685: "A", 2709: "A", 2753: "C", 2769: "B", 2819: "B",
    2869: "D", 2916: "D", 2955: "D", 2971: "D", 2996: "D", 3018: "C", 3077: "B", 3148: "C",
    3170: "C", 3211: "C", 3255: "C", 3309: "C", 3357: "C", 3383: "E", 3454: "A", 3505: "E",
    3529: "A", 3600: "B", 3620: "B", 3639: "B", 3678: "B", 3767: "B", 3831: "B", 3864: "B",
    3990: "B", 4034: "B", 4143: "B", 4229: "B", 4292: "B", 4311: "B", 4338: "B", 4367: "B",
    4383: "B", 4413: "B", 4442: "B", 4462: "E", 4516: "E", 4567: "E", 4599: "E", 4667: "A",
    4720: "A", 4739: "B", 4769: "E", 4827: "A", 4881: "B", 4929: "A", 4982: "B", 5021: "A",
    5080: "B", 5290: None,
}
TEST_MP4_FRAMES = 5301  # transnetv2's tests/test.mp4, 25 fps, 212 s
