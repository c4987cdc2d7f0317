import unittest

from login import login


class LoginTest(unittest.TestCase):
    def test_the_demo_user_logs_in(self):
        self.assertTrue(login("demo", "secret"))

    def test_a_wrong_password_is_refused(self):
        self.assertFalse(login("demo", "guess"))


if __name__ == "__main__":
    unittest.main()
