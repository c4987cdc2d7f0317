import unittest

from mypkg import shout


class ShoutTest(unittest.TestCase):
    def test_shout(self) -> None:
        self.assertEqual(shout("hi"), "HI!")


if __name__ == "__main__":
    unittest.main()
